"""IR limits (`ir.limits`) -> Envoy: circuit breakers, health checks, outlier detection and the
connection limit filter, as Envoy Gateway configures them.

- `circuit_breakers(cb)`: one threshold set (default priority); a field left unset keeps
  Propylon's limit of `CIRCUIT_BREAKER_LIMIT`; `maxParallelRequests` is Envoy's
  `max_requests`, `maxParallelRetries` its `max_retries`; a retry budget replaces
  `max_retries` (Envoy ignores it then), counted in percent of active requests.
- `health_checks(active)`: an HTTP probe (path, host, method, expected statuses, expected
  body), a TCP probe (payloads sent and expected) or a gRPC one (service), with timeout,
  interval and thresholds; `overrides.port` is set per endpoint (`health_check_port`).
- `outlier_detection(passive)`: consecutive 5xx, gateway and local-origin failures eject a
  host for `baseEjectionTime`; gateway errors are enforced only when set.
- `connection_limit_filter(stat_prefix, value, delay_ms)`: `envoy.filters.network.connection_limit`,
  first in a listener's filter chains: connections over the limit are closed (after
  `closeDelay`) and counted in `connection_limit.<stat_prefix>.limited_connections`.
"""

from __future__ import annotations

from envoy.config.cluster.v3.circuit_breaker_pb2 import CircuitBreakers
from envoy.config.cluster.v3.outlier_detection_pb2 import OutlierDetection
from envoy.config.core.v3.base_pb2 import RequestMethod
from envoy.config.core.v3.health_check_pb2 import HealthCheck
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.extensions.filters.network.connection_limit.v3.connection_limit_pb2 import (
    ConnectionLimit,
)
from envoy.type.v3.percent_pb2 import Percent
from envoy.type.v3.range_pb2 import Int64Range
from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import UInt32Value, UInt64Value

from propylon.ir import limits as ir
from propylon.xds.translate.messages import pack

CIRCUIT_BREAKER_LIMIT = 100_000
CONNECTION_LIMIT_FILTER = "envoy.filters.network.connection_limit"


def _ms(ms: int) -> Duration:
    out = Duration()
    out.FromMilliseconds(ms)
    return out


def _u32(value: int | None) -> UInt32Value:
    return UInt32Value(value=CIRCUIT_BREAKER_LIMIT if value is None else value)


def circuit_breakers(cb: ir.CircuitBreaker | None) -> CircuitBreakers:
    cb = cb or ir.CircuitBreaker()
    thresholds = CircuitBreakers.Thresholds(
        max_connections=_u32(cb.max_connections),
        max_pending_requests=_u32(cb.max_pending_requests),
        max_requests=_u32(cb.max_parallel_requests))
    if cb.max_parallel_retries is not None:
        thresholds.max_retries.value = cb.max_parallel_retries
    if cb.retry_budget_percent is not None:
        budget = thresholds.retry_budget
        budget.budget_percent.value = cb.retry_budget_percent
        if cb.retry_budget_min_concurrency is not None:
            budget.min_retry_concurrency.value = cb.retry_budget_min_concurrency
    return CircuitBreakers(thresholds=[thresholds])


def _payload(payload: ir.Payload) -> HealthCheck.Payload:
    if payload.text is not None:
        return HealthCheck.Payload(text=payload.text.encode().hex())
    return HealthCheck.Payload(text=payload.binary_hex or "")


def health_checks(active: ir.ActiveHealthCheck) -> list[HealthCheck]:
    out = HealthCheck(timeout=_ms(active.timeout_ms), interval=_ms(active.interval_ms),
                      unhealthy_threshold=UInt32Value(value=active.unhealthy_threshold),
                      healthy_threshold=UInt32Value(value=active.healthy_threshold))
    if active.kind == "HTTP":
        http = out.http_health_check
        http.path = active.path
        if active.hostname is not None:
            http.host = active.hostname
        if active.method is not None:
            http.method = RequestMethod.Value(active.method)
        http.expected_statuses.extend(Int64Range(start=code, end=code + 1)
                                      for code in active.expected_statuses)
        if active.expected_response is not None:
            http.receive.append(_payload(active.expected_response))
    elif active.kind == "TCP":
        tcp = out.tcp_health_check
        tcp.SetInParent()
        if active.send is not None:
            tcp.send.CopyFrom(_payload(active.send))
        if active.receive is not None:
            tcp.receive.append(_payload(active.receive))
    else:
        out.grpc_health_check.SetInParent()
        if active.grpc_service is not None:
            out.grpc_health_check.service_name = active.grpc_service
    return [out]


def outlier_detection(passive: ir.PassiveHealthCheck) -> OutlierDetection:
    out = OutlierDetection(
        interval=_ms(passive.interval_ms), base_ejection_time=_ms(passive.base_ejection_ms),
        consecutive_5xx=UInt32Value(value=passive.consecutive_5xx),
        consecutive_local_origin_failure=UInt32Value(
            value=passive.consecutive_local_origin_failures),
        max_ejection_percent=UInt32Value(value=passive.max_ejection_percent),
        split_external_local_origin_errors=passive.split_external_local_origin_errors)
    if passive.consecutive_gateway_errors is not None:
        out.consecutive_gateway_failure.value = passive.consecutive_gateway_errors
        out.enforcing_consecutive_gateway_failure.value = 100
    return out


def panic_threshold(percent: int) -> Percent:
    return Percent(value=float(percent))


def connection_limit_filter(stat_prefix: str, value: int, delay_ms: int | None) -> lc.Filter:
    config = ConnectionLimit(stat_prefix=stat_prefix, max_connections=UInt64Value(value=value))
    if delay_ms is not None:
        config.delay.CopyFrom(_ms(delay_ms))
    return lc.Filter(name=CONNECTION_LIMIT_FILTER, typed_config=pack(config))
