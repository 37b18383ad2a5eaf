"""`server-alias`: more host names for the Ingress's hosts (nginx's `server_name` aliases), added
to the hostnames of its routes. An alias that is the host of an Ingress rule of the same class is
left out by the conversion, as ingress-nginx ignores it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from propylon.ingress.effects import Context, Converted, Converter, Setting, converted, refused

_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def aliases(value: str) -> tuple[str, ...]:
    return tuple(a for a in (p.strip().lower() for p in value.split(",")) if _HOSTNAME.match(a))


def server_alias(ctx: Context, value: str) -> Converted:
    names = [p.strip() for p in value.split(",") if p.strip()]
    good = aliases(value)
    if not good:
        return refused(f'"{value}" names no valid host: write host names separated by commas')
    bad = [n for n in names if n.lower() not in good]
    note = f"left out, not host names: {', '.join(bad)}" if bad else ""
    return converted(Setting("server-alias", ",".join(good)), note=note)


CONVERTERS: Mapping[str, Converter] = {"server-alias": server_alias}
