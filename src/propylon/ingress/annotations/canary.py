"""Canary Ingresses: `canary` and its `canary-by-*` and `canary-weight*` companions.

A canary Ingress adds its backend to the mainline Ingress of the same host and path, chosen by
header, cookie or weight; only the host-wide merge (`propylon.ingress.canaries`) sees both, so
these converters check values and record them as settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.effects import Context, Converted, Converter, Setting, converted, refused
from propylon.translate.regexes import problem


def canary(ctx: Context, value: str) -> Converted:
    return converted(Setting("canary", "true" if ctx.flag("canary") else "false"))


def _needs_canary(check: Converter | None = None) -> Converter:
    def convert(ctx: Context, value: str) -> Converted:
        if not ctx.flag("canary"):
            return refused('has no effect without canary: "true": add it or remove this')
        return check(ctx, value) if check else converted()
    return convert


def _weight(ctx: Context, value: str) -> Converted:
    if not value.strip().isdigit():
        return refused(f'"{value}" is not a whole number: write e.g. "20"')
    return converted()


def _pattern(ctx: Context, value: str) -> Converted:
    if ctx.annotation("canary-by-header-value"):
        return converted(note="canary-by-header-value is also set and takes precedence, as in "
                              "ingress-nginx")
    why = problem(value)
    if why is not None:
        return refused(f"{why}; ingress-nginx then sends every request carrying the header to the "
                       "mainline, and so does the converted route")
    return converted()


CONVERTERS: Mapping[str, Converter] = {
    "canary": canary,
    "canary-by-header": _needs_canary(),
    "canary-by-header-value": _needs_canary(),
    "canary-by-header-pattern": _needs_canary(_pattern),
    "canary-by-cookie": _needs_canary(),
    "canary-weight": _needs_canary(_weight),
    "canary-weight-total": _needs_canary(_weight),
}
