"""The limits of Envoy Gateway's policies, decoded: circuit breakers, health checks and
connection limits.

`backend_limits(spec, duration)` reads a BackendTrafficPolicy spec's `circuitBreaker` and
`healthCheck` (active: HTTP, TCP or gRPC probes; passive: outlier detection; `panicThreshold`)
with Envoy Gateway's defaults where the CRD gives none; `connection_limit(spec)` a
ClientTrafficPolicy's `connection.connectionLimit` and `maxAcceptPerSocketEvent`. Each returns what it decoded and the
problems found, as messages naming the field and the fix. `duration` is the caller's parser of
Gateway API durations (it records its own problems and answers None for a bad value).
`local_rate_limit(spec)` reads a Local `rateLimit`: each rule's client selectors (headers,
query parameters, path, methods, source CIDR; exact, regex or distinct) and limit, the rule
without selectors as the default bucket (else Envoy Gateway's unlimited one), shadow mode.
`rate_limit_problems(spec)` says what Propylon cannot do of `rateLimit`: a Global rate limit
needs a rate-limit service, which Propylon does not provide.
The values are the IR's own (`ir.limits`): Envoy gets them as decoded.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from propylon.api.compression import byte_size
from propylon.ir.limits import (
    ActiveHealthCheck,
    CircuitBreaker,
    ConnectionLimit,
    HealthCheck,
    LocalRateLimit,
    PassiveHealthCheck,
    Payload,
    RateLimitMatch,
    RateLimitRule,
    TokenBucket,
)

Duration = Callable[[str, Any], "int | None"]
UINT32 = 2**32
HEALTH_CHECK_TYPES = ("HTTP", "TCP", "GRPC")


def _section(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}


def _count(errors: list[str], path: str, value: Any, default: int | None, least: int = 0,
           most: int = UINT32 - 1) -> int | None:
    """A whole number in [least, most] (the default when absent), else a problem."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        errors.append(f"{path}: {value!r} is not a number Envoy takes here: use {least}-{most}")
        return default
    return value


def _payload(errors: list[str], path: str, raw: Mapping[str, Any]) -> Payload | None:
    if not raw:
        return None
    kind = raw.get("type")
    if kind == "Text" and isinstance(raw.get("text"), str):
        return Payload(text=raw["text"])
    if kind == "Binary" and isinstance(raw.get("binary"), str):
        try:
            return Payload(binary_hex=base64.b64decode(raw["binary"], validate=True).hex())
        except (binascii.Error, ValueError):
            errors.append(f"{path}.binary: not base64: encode the bytes in base64")
            return None
    errors.append(f"{path}: set type Text with text, or type Binary with binary")
    return None


def circuit_breaker(spec: Mapping[str, Any], errors: list[str]) -> CircuitBreaker | None:
    raw = spec.get("circuitBreaker")
    if not isinstance(raw, Mapping):
        return None
    path = "spec.circuitBreaker"
    values = [_count(errors, f"{path}.{key}", raw.get(key), None)
              for key in ("maxConnections", "maxPendingRequests", "maxParallelRequests",
                          "maxParallelRetries", "maxRequestsPerConnection")]
    budget = _section(raw, "retryBudget")
    percent = min_concurrency = None
    if budget:
        fraction = _section(budget, "percent")
        numerator = _count(errors, f"{path}.retryBudget.percent.numerator",
                           fraction.get("numerator"), 0)
        denominator = _count(errors, f"{path}.retryBudget.percent.denominator",
                             fraction.get("denominator"), 100, least=1)
        percent = 100.0 * (numerator or 0) / (denominator or 100)
        if percent > 100:
            errors.append(f"{path}.retryBudget.percent: {numerator}/{denominator} is over "
                          "100%: make the numerator at most the denominator")
            percent = 100.0
        min_concurrency = _count(errors, f"{path}.retryBudget.minRetryConcurrency",
                                 budget.get("minRetryConcurrency"), None)
    return CircuitBreaker(values[0], values[1], values[2], values[3], values[4], percent,
                          min_concurrency)


def _active(raw: Mapping[str, Any], errors: list[str], duration: Duration,
            ) -> ActiveHealthCheck | None:
    path = "spec.healthCheck.active"
    kind = raw.get("type")
    if kind not in HEALTH_CHECK_TYPES:
        errors.append(f"{path}.type: {kind!r} is not a health check type: use "
                      f"{', '.join(HEALTH_CHECK_TYPES)}")
        return None
    http, tcp, grpc = _section(raw, "http"), _section(raw, "tcp"), _section(raw, "grpc")
    if kind == "HTTP" and not isinstance(http.get("path"), str):
        errors.append(f"{path}.http.path: an HTTP health check needs the path to probe: set it")
        return None
    statuses = []
    for code in http.get("expectedStatuses") or ():
        if isinstance(code, int) and 100 <= code <= 599:
            statuses.append(code)
        else:
            errors.append(f"{path}.http.expectedStatuses: {code!r} is not an HTTP status "
                          "code: use 100-599")
    method = http.get("method")
    hostname = http.get("hostname")
    service = grpc.get("service")
    port = _count(errors, f"{path}.overrides.port", _section(raw, "overrides").get("port"),
                  None, least=1, most=65535)
    timeout = duration(f"{path}.timeout", raw.get("timeout"))
    interval = duration(f"{path}.interval", raw.get("interval"))
    return ActiveHealthCheck(
        kind,
        1000 if timeout is None else timeout,
        3000 if interval is None else interval,
        _count(errors, f"{path}.unhealthyThreshold", raw.get("unhealthyThreshold"), 3,
               least=1) or 3,
        _count(errors, f"{path}.healthyThreshold", raw.get("healthyThreshold"), 1,
               least=1) or 1,
        str(http.get("path") or "/"),
        hostname if isinstance(hostname, str) else None,
        method.upper() if isinstance(method, str) else None,
        tuple(statuses),
        _payload(errors, f"{path}.http.expectedResponse", _section(http, "expectedResponse")),
        _payload(errors, f"{path}.tcp.send", _section(tcp, "send")),
        _payload(errors, f"{path}.tcp.receive", _section(tcp, "receive")),
        service if isinstance(service, str) else None,
        port)


def _passive(raw: Mapping[str, Any], errors: list[str], duration: Duration,
             ) -> PassiveHealthCheck:
    path = "spec.healthCheck.passive"
    defaults = PassiveHealthCheck()
    interval = duration(f"{path}.interval", raw.get("interval"))
    ejection = duration(f"{path}.baseEjectionTime", raw.get("baseEjectionTime"))
    return PassiveHealthCheck(
        defaults.interval_ms if interval is None else interval,
        defaults.base_ejection_ms if ejection is None else ejection,
        _count(errors, f"{path}.consecutive5XxErrors", raw.get("consecutive5XxErrors"),
               defaults.consecutive_5xx) or 0,
        _count(errors, f"{path}.consecutiveGatewayErrors", raw.get("consecutiveGatewayErrors"),
               None),
        _count(errors, f"{path}.consecutiveLocalOriginFailures",
               raw.get("consecutiveLocalOriginFailures"),
               defaults.consecutive_local_origin_failures) or 0,
        _count(errors, f"{path}.maxEjectionPercent", raw.get("maxEjectionPercent"),
               defaults.max_ejection_percent, most=100) or 0,
        bool(raw.get("splitExternalLocalOriginErrors")))


def health_check(spec: Mapping[str, Any], errors: list[str], duration: Duration,
                 ) -> HealthCheck | None:
    raw = spec.get("healthCheck")
    if not isinstance(raw, Mapping):
        return None
    active = _section(raw, "active")
    passive = _section(raw, "passive")
    return HealthCheck(
        _active(active, errors, duration) if active else None,
        _passive(passive, errors, duration) if "passive" in raw else None,
        _count(errors, "spec.healthCheck.panicThreshold", raw.get("panicThreshold"), None,
               most=100))


def connection_limit(spec: Mapping[str, Any], errors: list[str], duration: Duration,
                     ) -> ConnectionLimit | None:
    """`connection.connectionLimit`, `connection.maxAcceptPerSocketEvent` (0: no limit) and
    `connection.bufferLimit` (a quantity of bytes)."""
    connection = _section(spec, "connection")
    raw = _section(connection, "connectionLimit")
    value = _count(errors, "spec.connection.connectionLimit.value", raw.get("value"), None,
                   least=1)
    if raw and "value" not in raw:
        errors.append("spec.connection.connectionLimit.value: the limit is required: set "
                      "the number of connections a listener accepts")
    accept = _count(errors, "spec.connection.maxAcceptPerSocketEvent",
                    connection.get("maxAcceptPerSocketEvent"), None)
    buffer = byte_size(connection["bufferLimit"]) if "bufferLimit" in connection else None
    if "bufferLimit" in connection and not (buffer and buffer < UINT32):
        errors.append(f"spec.connection.bufferLimit: {connection['bufferLimit']!r} is not a "
                      "size in bytes Envoy takes: write a quantity such as 32Ki or 1Mi, at "
                      "least 1 and under 4Gi")
        buffer = None
    found = ConnectionLimit(value, duration("spec.connection.connectionLimit.closeDelay",
                                            raw.get("closeDelay")), accept or None, buffer)
    return None if found == ConnectionLimit() else found


def rate_limit_problems(spec: Mapping[str, Any]) -> list[str]:
    """What Propylon cannot do of a `rateLimit` beyond what `local_rate_limit` checks."""
    raw = spec.get("rateLimit")
    if not isinstance(raw, Mapping):
        return []
    if "global" in raw or raw.get("type") == "Global":
        return ["spec.rateLimit.global: a Global rate limit needs a rate-limit service, which "
                "Propylon does not provide: use type Local with spec.rateLimit.local"]
    if raw.get("type") != "Local" or "local" not in raw:
        return ["spec.rateLimit: set type Local and spec.rateLimit.local"]
    return []


UNIT_SECONDS = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400, "Week": 7 * 86400,
                "Month": 30 * 86400, "Year": 365 * 86400}
UNLIMITED = TokenBucket(UINT32 - 1, 1)  # Envoy Gateway's default bucket without a default rule
_MATCH_TYPES = ("Exact", "RegularExpression", "Distinct")


def _bucket(errors: list[str], path: str, raw: Mapping[str, Any]) -> TokenBucket | None:
    requests = _count(errors, f"{path}.requests", raw.get("requests"), None)
    unit = raw.get("unit")
    if unit not in UNIT_SECONDS:
        errors.append(f"{path}.unit: {unit!r} is not a rate-limit unit: use "
                      f"{', '.join(UNIT_SECONDS)}")
        return None
    if requests is None:
        errors.append(f"{path}.requests: a limit needs its number of requests: set it")
        return None
    return TokenBucket(requests, UNIT_SECONDS[unit])


def _matches(errors: list[str], path: str, source: str, raw: Any) -> list[RateLimitMatch]:
    out = []
    for i, item in enumerate(raw or ()):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "Exact")
        name, value = item.get("name"), item.get("value")
        if kind not in _MATCH_TYPES or not isinstance(name, str) \
                or kind != "Distinct" and not isinstance(value, str):
            errors.append(f"{path}[{i}]: set name, and type {', '.join(_MATCH_TYPES)} with a "
                          "value unless Distinct")
            continue
        if kind == "Distinct" and item.get("invert"):
            errors.append(f"{path}[{i}].invert: a Distinct match cannot be inverted: remove "
                          "invert")
            continue
        out.append(RateLimitMatch(source, name.lower() if source == "header" else name, kind,
                                  str(value or ""), bool(item.get("invert"))))
    return out


def _rule(errors: list[str], path: str, raw: Mapping[str, Any]) -> RateLimitRule | None:
    matches: list[RateLimitMatch] = []
    methods: list[RateLimitMatch] = []
    cidr: tuple[str, bool] | None = None
    errors.extend(f"{path}.{key} is not implemented by Propylon yet: remove it"
                  for key in raw if key not in ("clientSelectors", "limit", "shadowMode"))
    errors.extend(f"{path}.limit.{key} is not implemented by Propylon yet: remove it"
                  for key in _section(raw, "limit") if key not in ("requests", "unit"))
    for i, selector in enumerate(raw.get("clientSelectors") or ()):
        if not isinstance(selector, Mapping):
            continue
        at = f"{path}.clientSelectors[{i}]"
        matches.extend(_matches(errors, f"{at}.headers", "header", selector.get("headers")))
        matches.extend(_matches(errors, f"{at}.queryParams", "query",
                                selector.get("queryParams")))
        for method in selector.get("methods") or ():
            if isinstance(method, Mapping) and isinstance(method.get("value"), str):
                methods.append(RateLimitMatch("method", ":method", "Exact", method["value"],
                                              bool(method.get("invert"))))
        found = _section(selector, "path")
        if found:
            kind = found.get("type", "PathPrefix")
            if kind not in ("Exact", "PathPrefix", "RegularExpression"):
                errors.append(f"{at}.path.type: {kind!r}: use Exact, PathPrefix or "
                              "RegularExpression")
            else:
                matches.append(RateLimitMatch("path", ":path", kind, str(found.get("value", "/")),
                                              bool(found.get("invert"))))
        source = _section(selector, "sourceCIDR")
        if source:
            if cidr is not None or source.get("invert"):
                errors.append(f"{at}.sourceCIDR: Propylon takes one sourceCIDR per rule, not "
                              "inverted: split the rule")
            elif not _is_cidr(source.get("value")):
                errors.append(f"{at}.sourceCIDR.value: {source.get('value')!r} is not a CIDR "
                              "such as 10.0.0.0/8")
            else:
                cidr = (str(source["value"]), source.get("type") == "Distinct")
    bucket = _bucket(errors, f"{path}.limit", _section(raw, "limit"))
    if bucket is None:
        return None
    return RateLimitRule(tuple(matches), tuple(methods), cidr[0] if cidr else None,
                         bool(cidr and cidr[1]), bucket)


def _is_cidr(value: Any) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str) and "/" in value


def local_rate_limit(spec: Mapping[str, Any], errors: list[str]) -> LocalRateLimit | None:
    """A Local `rateLimit` (None when the spec has none, or a Global one)."""
    raw = spec.get("rateLimit")
    if not isinstance(raw, Mapping) or raw.get("type") != "Local":
        return None
    default = None
    rules = []
    shadows = []
    for i, item in enumerate(_section(raw, "local").get("rules") or ()):
        if not isinstance(item, Mapping):
            continue
        path = f"spec.rateLimit.local.rules[{i}]"
        rule = _rule(errors, path, item)
        if rule is None:
            continue
        shadows.append(bool(item.get("shadowMode")))
        if rule.matches or rule.methods or rule.source_cidr:
            rules.append(rule)
        elif default is None:
            default = rule.bucket
        else:
            errors.append(f"{path}: a second rule without clientSelectors: give it a selector "
                          "or remove it (one default limit per policy)")
    if any(shadows) and not all(shadows):
        errors.append("spec.rateLimit.local.rules[].shadowMode: Propylon applies shadow mode "
                      "to a whole policy: set it on every rule or on none")
    return LocalRateLimit(default or UNLIMITED, tuple(rules), bool(shadows) and all(shadows))
