"""IR load balancing -> an Envoy cluster's `lb_policy` and a route's `hash_policy`.

`configure(cluster, balancer)` sets the balancer of a cluster whose IR has one: round robin,
least request and random (with `slow_start_config` when the IR asks for a slow start), or
Maglev with its table size. `hash_policies(route)` gives the route's hash policies, in order:
the client address (`connection_properties.source_ip`), a header, a query parameter, or a
cookie with its TTL and attributes (Envoy sets it, `HttpOnly`, when the request has none).
"""

from __future__ import annotations

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.route.v3 import route_components_pb2 as rc
from google.protobuf.wrappers_pb2 import UInt64Value

from propylon.ir import model as ir

_POLICIES = {"RoundRobin": Cluster.ROUND_ROBIN, "LeastRequest": Cluster.LEAST_REQUEST,
             "Random": Cluster.RANDOM, "Maglev": Cluster.MAGLEV}


def configure(out: Cluster, balancer: ir.LoadBalancer) -> None:
    """Set `balancer` on the Envoy cluster `out`."""
    out.lb_policy = _POLICIES[balancer.policy]
    if balancer.table_size is not None:
        out.maglev_lb_config.table_size.CopyFrom(UInt64Value(value=balancer.table_size))
    if balancer.slow_start_ms is not None:
        config = out.least_request_lb_config if balancer.policy == "LeastRequest" \
            else out.round_robin_lb_config
        config.slow_start_config.slow_start_window.FromMilliseconds(balancer.slow_start_ms)


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
