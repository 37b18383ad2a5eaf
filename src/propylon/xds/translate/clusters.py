"""IR clusters -> Envoy `Cluster`s (CDS) and `ClusterLoadAssignment`s (EDS).

Every cluster is EDS-typed with ADS as its endpoint source, so a change of endpoints is one EDS
push and never touches CDS (which would drain connections to the cluster). The load assignment
lists endpoints sorted by address and port, so equal endpoint sets hash equally. A DNS
cluster (a DNS name, not a Service) is STRICT_DNS instead, its names in the cluster itself:
the proxy resolves them and follows their changes. An endpoint whose address is a path (`/...`,
or `@...` in the abstract namespace) with port 0 is a Unix socket (an Envoy Gateway Backend's);
an endpoint's `hostname` (a Backend's FQDN) is what a Backend host rewrite sends.

`h2c` clusters speak HTTP/2 with prior knowledge to the backend, through the upstream
`HttpProtocolOptions` extension; others use HTTP/1.1. A cluster with `tls` reaches its endpoints
through the TLS transport socket of `upstream_tls` (HTTP/2 over TLS for `h2c` ones). A cluster's
`connection` settings (from a BackendTrafficPolicy) set its connect timeout and, in the same
`HttpProtocolOptions`, the idle timeout, longest life and most requests of its HTTP
connections; its `load_balancer` sets the balancer (`loadbalancer`); its circuit breakers,
health checks and outlier detection are `limits`'. Circuit breakers a policy does not set are
raised well above Envoy's default of 1,024 so real fan-in is not refused. With a health check
`overrides.port`, endpoints are probed on that port.
"""

from __future__ import annotations

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.core.v3.address_pb2 import Address, Pipe, SocketAddress
from envoy.config.core.v3.config_source_pb2 import AggregatedConfigSource, ApiVersion, ConfigSource
from envoy.config.endpoint.v3 import endpoint_components_pb2 as ec
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.extensions.upstreams.http.v3.http_protocol_options_pb2 import HttpProtocolOptions
from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate import accesslog, limits, loadbalancer
from propylon.xds.translate.messages import pack
from propylon.xds.translate.upstream_tls import transport_socket

HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
CONNECT_TIMEOUT = Duration(seconds=5)
BUFFER_LIMIT_BYTES = 32 * 1024


def ads_source() -> ConfigSource:
    """Resources referenced from another resource come over the same ADS stream."""
    return ConfigSource(ads=AggregatedConfigSource(), resource_api_version=ApiVersion.V3)


def cluster(c: ir.Cluster) -> Cluster:
    """The Envoy cluster of one IR cluster: EDS, or STRICT_DNS for a DNS one."""
    connection = c.connection or ir.Connection()
    out = Cluster(
        name=c.name,
        type=Cluster.STRICT_DNS if c.resolver == "dns" else Cluster.EDS,
        connect_timeout=CONNECT_TIMEOUT if connection.connect_timeout_ms is None
        else duration_ms(connection.connect_timeout_ms),
        per_connection_buffer_limit_bytes=UInt32Value(value=BUFFER_LIMIT_BYTES),
        circuit_breakers=limits.circuit_breakers(connection.circuit_breaker),
    )
    if c.resolver == "dns":
        out.dns_lookup_family = Cluster.V4_PREFERRED
        out.load_assignment.CopyFrom(_assignment(c))
    else:
        out.eds_cluster_config.eds_config.CopyFrom(ads_source())
    health = connection.health_check
    if health is not None and health.active is not None:
        out.health_checks.extend(limits.health_checks(health.active))
        for check in out.health_checks:
            check.event_logger.extend(accesslog.health_event_loggers(health.event_log_paths))
    if health is not None and health.passive is not None:
        out.outlier_detection.CopyFrom(limits.outlier_detection(health.passive))
    if health is not None and health.panic_threshold is not None:
        out.common_lb_config.healthy_panic_threshold.CopyFrom(
            limits.panic_threshold(health.panic_threshold))
    per_connection = None if connection.circuit_breaker is None \
        else connection.circuit_breaker.max_requests_per_connection
    if c.protocol == "h2c" or connection.idle_timeout_ms is not None \
            or connection.max_duration_ms is not None or per_connection is not None:
        options = HttpProtocolOptions()
        if c.protocol == "h2c":
            options.explicit_http_config.http2_protocol_options.SetInParent()
        else:
            options.explicit_http_config.http_protocol_options.SetInParent()
        common = options.common_http_protocol_options
        if connection.idle_timeout_ms is not None:
            common.idle_timeout.CopyFrom(duration_ms(connection.idle_timeout_ms))
        if connection.max_duration_ms is not None:
            common.max_connection_duration.CopyFrom(duration_ms(connection.max_duration_ms))
        if per_connection is not None:
            common.max_requests_per_connection.value = per_connection
        out.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].CopyFrom(pack(options))
    if c.tls is not None:
        out.transport_socket.CopyFrom(transport_socket(c.tls, c.protocol))
    if c.load_balancer is not None:
        loadbalancer.configure(out, c.load_balancer)
    return out


def duration_ms(ms: int) -> Duration:
    """A protobuf Duration of `ms` milliseconds."""
    return Duration(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def load_assignment(c: ir.Cluster) -> ClusterLoadAssignment | None:
    """The endpoints of one IR cluster, sorted, each with its weight if it has one (None for a
    DNS cluster: they are in it)."""
    return None if c.resolver == "dns" else _assignment(c)


def _address(e: ir.Endpoint) -> Address:
    if e.port == 0 and e.address.startswith(("/", "@")):
        return Address(pipe=Pipe(path=e.address))
    return Address(socket_address=SocketAddress(address=e.address, port_value=e.port))


def _assignment(c: ir.Cluster) -> ClusterLoadAssignment:
    health = c.connection.health_check if c.connection is not None else None
    health_port = health.active.port if health is not None and health.active is not None \
        else None
    lb_endpoints = [
        ec.LbEndpoint(endpoint=ec.Endpoint(address=_address(e), hostname=e.hostname or ""),
            load_balancing_weight=None if e.weight is None else UInt32Value(value=e.weight))
        for e in sorted(set(c.endpoints), key=lambda e: (e.address, e.port, e.weight or 1))
    ]
    if health_port is not None:
        for lb_endpoint in lb_endpoints:
            lb_endpoint.endpoint.health_check_config.port_value = health_port
    return ClusterLoadAssignment(cluster_name=c.name,
                                 endpoints=[ec.LocalityLbEndpoints(lb_endpoints=lb_endpoints)])
