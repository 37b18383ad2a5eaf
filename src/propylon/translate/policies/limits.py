"""The limits of a policy, from their decoded form (`api.envoygateway_limits`) to the IR's
(`ir.limits`): the same fields, so each value is rebuilt field by field. `protocol` is the
protocol of a cluster copy: gRPC health checks need HTTP/2, so a cluster checked by them
speaks HTTP/2 with prior knowledge (h2c) to its backends (a gRPC server does)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

from propylon.api import envoygateway_limits as api
from propylon.ir import limits as ir
from propylon.ir.model import Connection, ClusterProtocol

T = TypeVar("T")


def _same(target: type[T], value: Any) -> T:
    return target(**{f.name: getattr(value, f.name) for f in fields(target)})  # type: ignore[arg-type]


def circuit_breaker(value: api.CircuitBreaker | None) -> ir.CircuitBreaker | None:
    return None if value is None else _same(ir.CircuitBreaker, value)


def _payload(value: api.Payload | None) -> ir.Payload | None:
    return None if value is None else _same(ir.Payload, value)


def health_check(value: api.HealthCheck | None) -> ir.HealthCheck | None:
    if value is None:
        return None
    active = value.active
    return ir.HealthCheck(
        None if active is None else replace(
            _same(ir.ActiveHealthCheck, replace(active, expected_response=None, send=None,
                                                receive=None)),
            expected_response=_payload(active.expected_response), send=_payload(active.send),
            receive=_payload(active.receive)),
        None if value.passive is None else _same(ir.PassiveHealthCheck, value.passive),
        value.panic_threshold)


def connection_limit(value: api.ConnectionLimit | None) -> ir.ConnectionLimit | None:
    return None if value is None else _same(ir.ConnectionLimit, value)


def protocol(source: ClusterProtocol, connection: Connection) -> ClusterProtocol:
    health = connection.health_check
    if health is not None and health.active is not None and health.active.kind == "GRPC":
        return "h2c"
    return source
