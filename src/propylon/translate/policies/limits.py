"""The limits of a policy in the IR (`ir.limits`, as `api.envoygateway_limits` decodes them):
`protocol_changes` give the protocol of a cluster copy: gRPC health checks need HTTP/2, so a cluster
checked by them speaks HTTP/2 with prior knowledge (h2c) to its backends (a gRPC server does).
"""

from __future__ import annotations

from propylon.ir.model import ClusterProtocol, Connection


def protocol_changes(connection: Connection) -> list[tuple[str, ClusterProtocol]]:
    """The protocol of a cluster copy with `connection`: h2c for gRPC health checks."""
    health = connection.health_check
    if health is not None and health.active is not None and health.active.kind == "GRPC":
        return [("protocol", "h2c")]
    return []
