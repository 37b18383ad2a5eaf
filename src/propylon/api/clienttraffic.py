"""The connection-level parts of a ClientTrafficPolicy spec, decoded: client IP detection and
header settings.

`client_ip(spec, errors)` reads `clientIPDetection`: `xForwardedFor` (`numTrustedHops`, or
`trustedCIDRs`: the client is the rightmost X-Forwarded-For address outside them;
`disableXForwardedForAppend`) or `customHeader` (`name`, `failClosed`). `headers(spec,
errors)` reads `headers`: `earlyRequestHeaders` (edited before routing), `lateResponseHeaders`
(edited last, after every route filter), `preserveXRequestID` and `withUnderscoresAction`.
Each appends to `errors`, as a message naming the field and the fix, what it cannot use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MATCH_TYPES = ("Exact", "Prefix", "Suffix", "RegularExpression")
UNDERSCORE_ACTIONS = ("Allow", "RejectRequest", "DropHeader")


@dataclass(frozen=True)
class ClientIP:
    """Where the client address comes from: X-Forwarded-For (`xff_hops` trusted hops, or
    the addresses in `trusted_cidrs`), or the header `custom_header`."""

    xff_hops: int | None = None
    trusted_cidrs: tuple[str, ...] = ()
    skip_xff_append: bool = False
    custom_header: str | None = None
    fail_closed: bool = False


@dataclass(frozen=True)
class HeaderEdits:
    """Header edits: (name, value) pairs set, added, added when absent; names removed, and
    (match type, value) of names removed when they match."""

    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    add_if_absent: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()
    remove_on_match: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HeaderSettings:
    early_request: HeaderEdits | None = None
    late_response: HeaderEdits | None = None
    preserve_request_id: bool | None = None
    underscores: str | None = None  # one of UNDERSCORE_ACTIONS


def client_ip(spec: Mapping[str, Any], errors: list[str]) -> ClientIP | None:
    """`spec.clientIPDetection`, or None when the spec has none."""
    raw = spec.get("clientIPDetection")
    if not isinstance(raw, Mapping):
        return None
    xff, custom = raw.get("xForwardedFor"), raw.get("customHeader")
    path = "spec.clientIPDetection"
    if isinstance(xff, Mapping) and isinstance(custom, Mapping):
        errors.append(f"{path}: xForwardedFor and customHeader exclude each other: keep one")
        return None
    if isinstance(custom, Mapping):
        name = custom.get("name")
        if not isinstance(name, str) or not name:
            errors.append(f"{path}.customHeader.name: a header name is required: set it")
            return None
        return ClientIP(custom_header=name.lower(), fail_closed=bool(custom.get("failClosed")))
    if not isinstance(xff, Mapping):
        return None
    hops, cidrs = xff.get("numTrustedHops"), xff.get("trustedCIDRs")
    if hops is not None and cidrs:
        errors.append(f"{path}.xForwardedFor: numTrustedHops and trustedCIDRs exclude each "
                      "other: keep one")
        return None
    if hops is not None and (not isinstance(hops, int) or hops < 0):
        errors.append(f"{path}.xForwardedFor.numTrustedHops: {hops!r} is not a number of "
                      "hops: use 0 or more")
        return None
    valid = []
    for i, cidr in enumerate(cidrs or ()):
        try:
            valid.append(str(ipaddress.ip_network(str(cidr), strict=False)))
        except ValueError:
            errors.append(f"{path}.xForwardedFor.trustedCIDRs[{i}]: {cidr!r} is not a CIDR: "
                          "write it as 10.0.0.0/8 or 2001:db8::/32")
    return ClientIP(xff_hops=hops, trusted_cidrs=tuple(valid),
                    skip_xff_append=bool(xff.get("disableXForwardedForAppend")))


def headers(spec: Mapping[str, Any], errors: list[str]) -> HeaderSettings | None:
    """`spec.headers` (the fields listed in the module docstring), or None."""
    raw = spec.get("headers")
    if not isinstance(raw, Mapping):
        return None
    underscores = raw.get("withUnderscoresAction")
    if underscores is not None and underscores not in UNDERSCORE_ACTIONS:
        errors.append(f"spec.headers.withUnderscoresAction: {underscores!r} is not an action: "
                      f"use one of {', '.join(UNDERSCORE_ACTIONS)}")
        underscores = None
    preserve = raw.get("preserveXRequestID")
    return HeaderSettings(
        _edits(raw.get("earlyRequestHeaders"), "spec.headers.earlyRequestHeaders", errors),
        _edits(raw.get("lateResponseHeaders"), "spec.headers.lateResponseHeaders", errors),
        None if preserve is None else bool(preserve), underscores)


def _edits(raw: Any, path: str, errors: list[str]) -> HeaderEdits | None:
    if not isinstance(raw, Mapping):
        return None

    def pairs(key: str) -> tuple[tuple[str, str], ...]:
        out = []
        for i, item in enumerate(raw.get(key) or ()):
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str) or not name:
                errors.append(f"{path}.{key}[{i}].name: a header name is required: set it")
                continue
            out.append((name.lower(), str(item.get("value") or "")))
        return tuple(out)

    matches = []
    for i, item in enumerate(raw.get("removeOnMatch") or ()):
        kind = item.get("type") or "Exact" if isinstance(item, Mapping) else None
        value = item.get("value") if isinstance(item, Mapping) else None
        if kind not in MATCH_TYPES or not isinstance(value, str) or not value:
            errors.append(f"{path}.removeOnMatch[{i}]: a type ({', '.join(MATCH_TYPES)}) and "
                          "a non-empty value are required: set them")
            continue
        matches.append((str(kind), value))
    return HeaderEdits(pairs("set"), pairs("add"), pairs("addIfAbsent"),
                       tuple(str(n).lower() for n in raw.get("remove") or ()), tuple(matches))
