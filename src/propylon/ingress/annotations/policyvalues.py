"""How ingress-nginx reads the values of the annotations that become policies.

Annotation values are strings. ingress-nginx parses them leniently (a value it cannot read is
ignored and the default stays, and it says so only in its log), so each reader here returns
`None` for a value it cannot read, and the converter reports the annotation with the default
that applies instead. `size_bytes` reads nginx sizes (`8m`, `512k`, `1024`), `seconds` nginx
times given as plain seconds (`60`) or with a unit (`10s`, `5m`), `boolean` "true"/"false", and
`items` a comma-separated list with blank items dropped.
"""

from __future__ import annotations

import re

PREFIX = "nginx.ingress.kubernetes.io/"
_SIZE = re.compile(r"^\s*([0-9]+)\s*([bkmgBKMG]?)\s*$")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_TIME = re.compile(r"^\s*([0-9]+)\s*(ms|s|m|h|d|)\s*$")
_TIME_MS = {"ms": 1, "": 1000, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def size_bytes(value: str) -> int | None:
    """An nginx size in bytes (`8m` is 8 MiB), or None when `value` is not one."""
    found = _SIZE.match(value)
    return None if found is None else int(found[1]) * _UNITS[found[2].lower()]


def millis(value: str) -> int | None:
    """An nginx time in milliseconds (a bare number is seconds), or None."""
    found = _TIME.match(value)
    return None if found is None else int(found[1]) * _TIME_MS[found[2]]


def boolean(value: str) -> bool | None:
    """"true" or "false" (any case), else None."""
    return {"true": True, "false": False}.get(value.strip().lower())


def items(value: str) -> tuple[str, ...]:
    """The comma-separated items of `value`, stripped, blank ones dropped."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def duration(ms: int) -> str:
    """A Gateway API Duration (at most 5 digits a unit) for `ms` milliseconds (`60s`, `480h`,
    `1s500ms`)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, rest = divmod(rest, 1000)
    out = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s"),
                                               (rest, "ms")) if n)
    return out or "0s"
