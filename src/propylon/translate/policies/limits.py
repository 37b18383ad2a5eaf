"""The limits of a policy, from their decoded form (`api.envoygateway_limits`) to the IR's
(`ir.limits`, the same classes with the same fields: `to_ir` rebuilds a value field by field).
`protocol_changes` give the protocol of a cluster copy: gRPC health checks need HTTP/2, so a cluster
checked by them speaks HTTP/2 with prior knowledge (h2c) to its backends (a gRPC server does).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from propylon.ir import limits as ir
from propylon.ir.model import ClusterProtocol, Connection


def to_ir(value: Any) -> Any:
    """`value` (an `api.envoygateway_limits` value, or a tuple of them) as the IR's."""
    if is_dataclass(value) and not isinstance(value, type):
        target = getattr(ir, type(value).__name__)
        return target(**{f.name: to_ir(getattr(value, f.name)) for f in fields(value)})
    if isinstance(value, tuple):
        return tuple(to_ir(item) for item in value)
    return value


def protocol_changes(connection: Connection) -> list[tuple[str, ClusterProtocol]]:
    """The protocol of a cluster copy with `connection`: h2c for gRPC health checks."""
    health = connection.health_check
    if health is not None and health.active is not None and health.active.kind == "GRPC":
        return [("protocol", "h2c")]
    return []
