"""The ADS stream walks each route table once for the clusters it references (a memo keyed by
the table): whatever the sequence of snapshots and answers, the clusters it keeps for Envoy's
route tables are those a fresh walk of every table finds (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from propylon.ir import model as ir
from propylon.xds.server.stream import AdsStream
from propylon.xds.translate import CLUSTER, XdsResources, referenced_clusters, translate
from tests.xds.test_stream import ack, subscribed

NAMES = ("a", "b", "c", "d")


def snapshot(routed: frozenset[str], extra: frozenset[str]) -> XdsResources:
    """Routes to `routed` (one route each), clusters for `routed | extra`."""
    routes = tuple(ir.Route(f"r-{n}", ir.RouteMatch(ir.PathMatch("PathPrefix", f"/{n}")),
                            backends=(ir.WeightedBackend(n, 1),)) for n in sorted(routed))
    return translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config="rc"),),
        route_configs=(ir.RouteConfig("rc", (ir.VirtualHost("h", ("h",), routes),)),),
        clusters=tuple(ir.Cluster(n, (ir.Endpoint("127.0.0.1", 9000),))
                       for n in sorted(routed | extra)),
        secrets=()))


def fresh_walk(stream: AdsStream, wanted: XdsResources) -> dict[str, object]:
    sent = stream.types[CLUSTER].sent
    used: set[str] = set()
    for table in stream._routes_in_envoy():
        used |= referenced_clusters(table)  # type: ignore[arg-type]
    return {n: sent[n] for n in sorted(used) if n in sent and n not in wanted.clusters}


subsets = st.frozensets(st.sampled_from(NAMES))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(subsets, subsets, st.integers(0, 3)), min_size=1, max_size=8))
def test_retained_clusters_equal_a_fresh_walk(steps: list[tuple[frozenset[str],
                                                                 frozenset[str], int]]) -> None:
    first = snapshot(steps[0][0], steps[0][1])
    stream = subscribed(first)
    for routed, extra, answers in steps:
        wanted = snapshot(routed, extra)
        pending = stream.responses(wanted)
        for response in pending[:answers]:  # Envoy answers some responses, not always all
            stream.on_request(ack(response, tuple(stream.types[response.type_url].names or ())))
        assert stream._retained_clusters(wanted) == fresh_walk(stream, wanted)
