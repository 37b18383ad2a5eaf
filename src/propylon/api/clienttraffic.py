"""The connection-level parts of a ClientTrafficPolicy spec, decoded: client IP detection,
header settings, HTTP/1 and HTTP/2 settings, path normalisation, TLS settings and TCP
keepalive.

`client_ip(spec, errors)` reads `clientIPDetection`: `xForwardedFor` (`numTrustedHops`, or
`trustedCIDRs`: the client is the rightmost X-Forwarded-For address outside them;
`disableXForwardedForAppend`) or `customHeader` (`name`, `failClosed`). `headers(spec,
errors)` reads `headers`: `earlyRequestHeaders` (edited before routing), `lateResponseHeaders`
(edited last, after every route filter), `preserveXRequestID`, `withUnderscoresAction` and
`xForwardedClientCert` (`mode`, `certDetailsToAdd`).
`protocols(spec, errors)` reads `http1` (`enableTrailers`, `http10`), `http2`
(`initialStreamWindowSize`, `initialConnectionWindowSize`, `maxConcurrentStreams`,
`onInvalidMessage`), `path` (`escapedSlashesAction`, `disableMergeSlashes`) and
`tcpKeepalive` (`probes`, `idleTime`, `interval`); `tls(spec, errors)` reads `tls`
(`minVersion`, `maxVersion`, `ciphers`, `ecdhCurves`, `signatureAlgorithms`,
`alpnProtocols`). Each appends to `errors`, as a message naming the field and the fix, what it
cannot use.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api.compression import byte_size
from propylon.api.formats import duration_ms

MATCH_TYPES = ("Exact", "Prefix", "Suffix", "RegularExpression")
UNDERSCORE_ACTIONS = ("Allow", "RejectRequest", "DropHeader")
SLASH_ACTIONS = ("KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect")
INVALID_MESSAGE_ACTIONS = ("TerminateConnection", "TerminateStream")
TLS_VERSIONS = ("Auto", "1.0", "1.1", "1.2", "1.3")
XFCC_MODES = ("Sanitize", "ForwardOnly", "AppendForward", "SanitizeSet", "AlwaysForwardOnly")
XFCC_DETAILS = ("Subject", "Cert", "Chain", "DNS", "URI")
_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")


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
    xfcc_mode: str | None = None  # one of XFCC_MODES
    xfcc_details: tuple[str, ...] = ()  # of XFCC_DETAILS (AppendForward, SanitizeSet)


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
    xfcc = _mapping(raw, "xForwardedClientCert")
    mode = _choice(xfcc, "mode", XFCC_MODES, "spec.headers.xForwardedClientCert", errors)
    details = tuple(str(d) for d in xfcc.get("certDetailsToAdd") or ())
    for i, detail in enumerate(details):
        if detail not in XFCC_DETAILS:
            errors.append(f"spec.headers.xForwardedClientCert.certDetailsToAdd[{i}]: {detail!r} "
                          f"is not one of {', '.join(XFCC_DETAILS)}: use one")
    if details and mode not in ("AppendForward", "SanitizeSet"):
        errors.append("spec.headers.xForwardedClientCert.certDetailsToAdd: only used with mode "
                      "AppendForward or SanitizeSet: set one of them, or remove it")
    return HeaderSettings(
        _edits(raw.get("earlyRequestHeaders"), "spec.headers.earlyRequestHeaders", errors),
        _edits(raw.get("lateResponseHeaders"), "spec.headers.lateResponseHeaders", errors),
        None if preserve is None else bool(preserve), underscores, mode,
        tuple(d for d in details if d in XFCC_DETAILS))


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


@dataclass(frozen=True)
class Protocols:
    """HTTP/1, HTTP/2, path and TCP keepalive settings (None: Propylon's defaults)."""

    enable_trailers: bool | None = None
    accept_http10: bool | None = None
    h2_stream_window: int | None = None
    h2_connection_window: int | None = None
    h2_max_streams: int | None = None
    h2_terminate_stream: bool | None = None  # onInvalidMessage TerminateStream
    escaped_slashes: str | None = None  # one of SLASH_ACTIONS
    merge_slashes: bool | None = None
    keepalive_probes: int | None = None
    keepalive_idle_s: int | None = None
    keepalive_interval_s: int | None = None


@dataclass(frozen=True)
class TLSSettings:
    min_version: str | None = None  # one of TLS_VERSIONS
    max_version: str | None = None
    ciphers: tuple[str, ...] = ()
    ecdh_curves: tuple[str, ...] = ()
    signature_algorithms: tuple[str, ...] = ()
    alpn: tuple[str, ...] | None = None


def protocols(spec: Mapping[str, Any], errors: list[str]) -> Protocols | None:
    """`spec.http1`, `spec.http2`, `spec.path` and `spec.tcpKeepalive`, or None."""
    http1, http2 = _mapping(spec, "http1"), _mapping(spec, "http2")
    path, keepalive = _mapping(spec, "path"), _mapping(spec, "tcpKeepalive")
    if not (http1 or http2 or path or keepalive):
        return None
    if _mapping(http1, "http10").get("useDefaultHost"):
        errors.append("spec.http1.http10.useDefaultHost is not implemented by Propylon yet: "
                      "remove it (HTTP/1.0 requests must then carry a Host)")

    def window(key: str) -> int | None:
        value = http2.get(key)
        size = byte_size(value) if value is not None else None
        if value is not None and (size is None or not 65535 <= size <= 2**31 - 1):
            errors.append(f"spec.http2.{key}: {value!r} is not a window size: use 64Ki to 2Gi")
            return None
        return size

    streams = http2.get("maxConcurrentStreams")
    if streams is not None and (not isinstance(streams, int) or not 1 <= streams <= 2**31 - 1):
        errors.append(f"spec.http2.maxConcurrentStreams: {streams!r} is not a number of "
                      "streams: use 1 or more")
        streams = None
    invalid = _choice(http2, "onInvalidMessage", INVALID_MESSAGE_ACTIONS, "spec.http2", errors)
    slashes = _choice(path, "escapedSlashesAction", SLASH_ACTIONS, "spec.path", errors)
    probes = keepalive.get("probes")
    if probes is not None and (not isinstance(probes, int) or probes < 1):
        errors.append(f"spec.tcpKeepalive.probes: {probes!r} is not a number of probes: use 1 "
                      "or more")
        probes = None
    merge = path.get("disableMergeSlashes")
    trailers, http10 = http1.get("enableTrailers"), http1.get("http10")
    return Protocols(
        None if trailers is None else bool(trailers), True if http10 is not None else None,
        window("initialStreamWindowSize"), window("initialConnectionWindowSize"), streams,
        None if invalid is None else invalid == "TerminateStream", slashes,
        None if merge is None else not merge, probes,
        _seconds(keepalive, "idleTime", errors), _seconds(keepalive, "interval", errors))


def tls(spec: Mapping[str, Any], errors: list[str]) -> TLSSettings | None:
    """`spec.tls` (the fields listed in the module docstring), or None."""
    raw = _mapping(spec, "tls")
    if not raw:
        return None
    low = _choice(raw, "minVersion", TLS_VERSIONS, "spec.tls", errors)
    high = _choice(raw, "maxVersion", TLS_VERSIONS, "spec.tls", errors)
    if low not in (None, "Auto") and high not in (None, "Auto") and \
            float(str(low)) > float(str(high)):
        errors.append(f"spec.tls: minVersion {low} is above maxVersion {high}: lower it")

    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in raw.get(key) or ())

    alpn = raw.get("alpnProtocols")
    return TLSSettings(low, high, strings("ciphers"), strings("ecdhCurves"),
                       strings("signatureAlgorithms"),
                       None if alpn is None else tuple(str(v) for v in alpn))


def _mapping(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}


def _choice(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], at: str,
            errors: list[str]) -> str | None:
    value = raw.get(key)
    if value is not None and value not in allowed:
        errors.append(f"{at}.{key}: {value!r} is not one of {', '.join(allowed)}: use one")
        return None
    return None if value is None else str(value)


def _seconds(raw: Mapping[str, Any], key: str, errors: list[str]) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _DURATION.match(value) or duration_ms(value) < 1000:
        errors.append(f"spec.tcpKeepalive.{key}: {value!r} is not a duration of a second or "
                      "more: write it as 30s or 5m")
        return None
    return duration_ms(value) // 1000
