"""IR load balancing -> an Envoy cluster's `load_balancing_policy` and a route's `hash_policy`.

`configure(cluster, balancer)` sets the balancer of a cluster whose IR has one, as a load
balancing policy extension: round robin, least request, random, client-side weighted round
robin (weights from the endpoints' ORCA load reports, in-band or out-of-band: see
`_out_of_band`) with `slow_start_config` when the IR asks
for a slow start, or Maglev with its table size; with override headers, the `override_host`
policy first, which sends a request naming an endpoint of the cluster (`address:port`) in one
of those headers there, and falls back to that balancer. `hash_policies(route)` gives the
route's hash policies, in order: the client address (`connection_properties.source_ip`), a
header, a query parameter, or a cookie with its TTL and attributes (Envoy sets it, `HttpOnly`,
when the request has none).
"""

from __future__ import annotations

from envoy.config.cluster.v3.cluster_pb2 import Cluster, LoadBalancingPolicy
from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.client_side_weighted_round_robin_pb2 import (  # noqa: E501
    ClientSideWeightedRoundRobin,
)
from envoy.extensions.load_balancing_policies.least_request.v3.least_request_pb2 import (
    LeastRequest,
)
from envoy.extensions.load_balancing_policies.maglev.v3.maglev_pb2 import Maglev
from envoy.extensions.load_balancing_policies.override_host.v3.override_host_pb2 import (
    OverrideHost,
)
from envoy.extensions.load_balancing_policies.random.v3.random_pb2 import Random
from envoy.extensions.load_balancing_policies.round_robin.v3.round_robin_pb2 import RoundRobin
from google.protobuf.message import Message

from propylon.ir import model as ir
from propylon.xds.translate.messages import pack

_NAMES = {"RoundRobin": "round_robin", "LeastRequest": "least_request", "Random": "random",
          "Maglev": "maglev", "Utilization": "client_side_weighted_round_robin"}

def _policy(balancer: ir.LoadBalancer) -> TypedExtensionConfig:
    """The balancer as a load balancing policy extension."""
    config: Message
    if balancer.policy == "Maglev":
        config = Maglev()
        if balancer.table_size is not None:
            config.table_size.value = balancer.table_size
    elif balancer.policy == "Random":
        config = Random()
    elif balancer.utilization is not None:
        config = _weighted_round_robin(balancer.utilization)
        if balancer.slow_start_ms is not None:
            config.slow_start_config.slow_start_window.FromMilliseconds(balancer.slow_start_ms)
    else:
        config = LeastRequest() if balancer.policy == "LeastRequest" else RoundRobin()
        if balancer.slow_start_ms is not None:
            config.slow_start_config.slow_start_window.FromMilliseconds(balancer.slow_start_ms)
    policy = _extension(f"envoy.load_balancing_policies.{_NAMES[balancer.policy]}", config)
    if balancer.utilization is not None:
        policy.typed_config.value += _out_of_band(balancer.utilization)
    return policy


def _weighted_round_robin(used: ir.Utilization) -> ClientSideWeightedRoundRobin:
    out = ClientSideWeightedRoundRobin(
        metric_names_for_computing_utilization=list(used.metric_names))
    for field, ms in (("blackout_period", used.blackout_ms),
                      ("weight_expiration_period", used.weight_expiration_ms),
                      ("weight_update_period", used.weight_update_ms)):
        if ms is not None:
            getattr(out, field).FromMilliseconds(ms)
    if used.error_penalty_percent is not None:
        out.error_utilization_penalty.value = used.error_penalty_percent / 100
    if used.out_of_band:
        out.enable_oob_load_report.value = True
        if used.oob_period_ms is not None:
            out.oob_reporting_period.FromMilliseconds(used.oob_period_ms)
    return out


def _out_of_band(used: ir.Utilization) -> bytes:
    """The serialized `oob_reporting_config` (field 9, an `OrcaOobReportingConfig` whose
    `port_value` is field 1) that sends Envoy's ORCA stream to another port of each endpoint.
    Envoy 1.40 has the field; the generated Python protos predate it, so it is written as
    wire bytes after the message (a field's position in the encoding does not matter)."""
    if not used.out_of_band or used.oob_port is None:
        return b""
    port = _varint(used.oob_port)
    config = b"\x08" + port
    return b"\x4a" + _varint(len(config)) + config


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _extension(name: str, config: Message) -> TypedExtensionConfig:
    return TypedExtensionConfig(name=name, typed_config=pack(config))


def configure(out: Cluster, balancer: ir.LoadBalancer) -> None:
    """Set `balancer` on the Envoy cluster `out` (`load_balancing_policy`)."""
    policy = _policy(balancer)
    if balancer.override_headers:
        policy = _extension("envoy.load_balancing_policies.override_host", OverrideHost(
            override_host_sources=[OverrideHost.OverrideHostSource(header=h)
                                   for h in balancer.override_headers],
            fallback_policy=LoadBalancingPolicy(policies=[
                LoadBalancingPolicy.Policy(typed_extension_config=policy)])))
    out.load_balancing_policy.policies.append(
        LoadBalancingPolicy.Policy(typed_extension_config=policy))


def hash_policies(route: ir.Route) -> list[rc.RouteAction.HashPolicy]:
    """The Envoy hash policies of `route`."""
    out = []
    for h in route.hash_policies:
        policy = rc.RouteAction.HashPolicy()
        if h.type == "SourceIP":
            policy.connection_properties.source_ip = True
        elif h.type == "Header":
            policy.header.header_name = h.name
        elif h.type == "QueryParam":
            policy.query_parameter.name = h.name
        else:
            policy.cookie.name = h.name
            if h.ttl_ms is not None:
                policy.cookie.ttl.FromMilliseconds(h.ttl_ms)
            policy.cookie.attributes.extend(
                rc.RouteAction.HashPolicy.CookieAttribute(name=name, value=value)
                for name, value in h.attributes)
        out.append(policy)
    return out
