"""Path matching and rewriting: `use-regex` and `rewrite-target`.

Both are host-wide in ingress-nginx (one of them on any Ingress of a host turns every path of
that host into a case-insensitive regex location), so the converters only record them
(`Setting`) and `propylon.ingress.hosts` applies them across the host's Ingresses.
"""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.effects import Context, Converted, Converter, Setting, converted, refused


def use_regex(ctx: Context, value: str) -> Converted:
    if value.strip().lower() not in ("true", "false"):
        return refused(f'"{value}" is not a boolean: write "true" or "false"')
    return converted(Setting("use-regex", value.strip().lower()))


def rewrite_target(ctx: Context, value: str) -> Converted:
    return converted(Setting("rewrite-target", value))


CONVERTERS: Mapping[str, Converter] = {
    "use-regex": use_regex,
    "rewrite-target": rewrite_target,
}
