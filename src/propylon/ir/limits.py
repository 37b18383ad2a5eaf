"""The limits a policy sets on clusters and listeners, in the IR (see `model.Connection` and
`model.Listener`) and routes (`model.Route`): circuit breakers, active and passive health
checks, connection limits, local rate limits.
`api.envoygateway_limits` decodes a policy into them; `xds.translate.limits` turns them into
Envoy's messages.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    event_log_paths: tuple[str, ...] = ()  # files the probes' events are written to


@dataclass(frozen=True)
class ConnectionLimit:
    """A listener's limits on client connections: how many are open at once (`value`, None:
    no limit), how long one over it is kept before being closed, and how many are accepted
    from the kernel per socket event (None: all pending); how many bytes Envoy buffers per
    connection (None: Propylon's `BUFFER_LIMIT_BYTES`, 32 KiB)."""

    value: int | None = None
    close_delay_ms: int | None = None
    max_accept_per_event: int | None = None
    buffer_bytes: int | None = None


@dataclass(frozen=True)
class RateLimitMatch:
    """One condition of a rate-limit rule: on a header (`name`), a query parameter, the
    method (`:method`) or the path (`:path`); `type` Exact, RegularExpression, PathPrefix,
    or Distinct (a bucket per value, `value` unused)."""

    source: str  # header, query, method, path
    name: str
    type: str
    value: str
    invert: bool = False


@dataclass(frozen=True)
class TokenBucket:
    requests: int
    fill_s: int


@dataclass(frozen=True)
class RateLimitRule:
    """Requests matching every one of `matches`, one of `methods` (when any) and
    `source_cidr` (when set; `cidr_distinct`: a bucket per client address) share `bucket`."""

    matches: tuple[RateLimitMatch, ...]
    methods: tuple[RateLimitMatch, ...]
    source_cidr: str | None
    cidr_distinct: bool
    bucket: TokenBucket


@dataclass(frozen=True)
class LocalRateLimit:
    """A route's local rate limit: requests no rule matches share `default`; with `shadow`
    requests are counted but never refused; `headers`: the x-ratelimit-* response headers."""

    default: TokenBucket
    rules: tuple[RateLimitRule, ...]
    shadow: bool = False
    headers: bool = True
