"""The limits of Envoy Gateway's policies, decoded: circuit breakers, health checks and
connection limits.

`backend_limits(spec, duration)` reads a BackendTrafficPolicy spec's `circuitBreaker` and
`healthCheck` (active: HTTP, TCP or gRPC probes; passive: outlier detection; `panicThreshold`)
with Envoy Gateway's defaults where the CRD gives none; `connection_limit(spec)` a
ClientTrafficPolicy's `connection.connectionLimit`. Each returns what it decoded and the
problems found, as messages naming the field and the fix. `duration` is the caller's parser of
Gateway API durations (it records its own problems and answers None for a bad value).
`rate_limit_problems(spec)` says what Propylon cannot do of `rateLimit`: a Global rate limit
needs a rate-limit service, which Propylon does not provide.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Duration = Callable[[str, Any], "int | None"]
UINT32 = 2**32
HEALTH_CHECK_TYPES = ("HTTP", "TCP", "GRPC")


@dataclass(frozen=True)
class CircuitBreaker:
    """Envoy's circuit-breaker thresholds of a cluster (None: Propylon's default)."""

    max_connections: int | None = None
    max_pending_requests: int | None = None
    max_parallel_requests: int | None = None
    max_parallel_retries: int | None = None
    max_requests_per_connection: int | None = None
    retry_budget_percent: float | None = None  # with a retry budget, retries it allows
    retry_budget_min_concurrency: int | None = None


@dataclass(frozen=True)
class Payload:
    """What a probe sends or expects: text, or hex-encoded bytes (`binary`, base64 in the
    API, decoded here)."""

    text: str | None = None
    binary_hex: str | None = None


@dataclass(frozen=True)
class ActiveHealthCheck:
    kind: str  # HTTP, TCP, GRPC
    timeout_ms: int = 1000
    interval_ms: int = 3000
    unhealthy_threshold: int = 3
    healthy_threshold: int = 1
    path: str = "/"
    hostname: str | None = None
    method: str | None = None
    expected_statuses: tuple[int, ...] = ()
    expected_response: Payload | None = None
    send: Payload | None = None
    receive: Payload | None = None
    grpc_service: str | None = None
    port: int | None = None  # probe this port instead of the endpoint's (overrides.port)


@dataclass(frozen=True)
class PassiveHealthCheck:
    """Outlier detection (Envoy Gateway's defaults)."""

    interval_ms: int = 3000
    base_ejection_ms: int = 30000
    consecutive_5xx: int = 5
    consecutive_gateway_errors: int | None = None
    consecutive_local_origin_failures: int = 5
    max_ejection_percent: int = 10
    split_external_local_origin_errors: bool = False


@dataclass(frozen=True)
class HealthCheck:
    active: ActiveHealthCheck | None = None
    passive: PassiveHealthCheck | None = None
    panic_threshold: int | None = None  # percent of healthy hosts below which all are used


@dataclass(frozen=True)
class ConnectionLimit:
    value: int
    close_delay_ms: int | None = None


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
    return CircuitBreaker(*values, retry_budget_percent=percent,
                          retry_budget_min_concurrency=min_concurrency)


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
    raw = _section(_section(spec, "connection"), "connectionLimit")
    if not raw:
        return None
    value = _count(errors, "spec.connection.connectionLimit.value", raw.get("value"), None,
                   least=1)
    if value is None:
        if "value" not in raw:
            errors.append("spec.connection.connectionLimit.value: the limit is required: set "
                          "the number of connections a listener accepts")
        return None
    return ConnectionLimit(value, duration("spec.connection.connectionLimit.closeDelay",
                                           raw.get("closeDelay")))


def rate_limit_problems(spec: Mapping[str, Any]) -> list[str]:
    raw = spec.get("rateLimit")
    if not isinstance(raw, Mapping) or "global" not in raw and raw.get("type") != "Global":
        return []
    return ["spec.rateLimit.global: a Global rate limit needs a rate-limit service, which "
            "Propylon does not provide: use type Local with spec.rateLimit.local"]
