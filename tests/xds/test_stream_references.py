"""The delta ADS stream keeps, with each virtual host Envoy has, the clusters it sends traffic
to (taken from `XdsResources.vhost_clusters`, not walked): whatever the sequence of snapshots and
answers, the clusters it keeps in Envoy for those virtual hosts are those a fresh walk of every
virtual host finds (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from propylon.ir import model as ir
from propylon.xds.server.cache import Snapshot, versioned
from propylon.xds.server.stream import AdsStream
from propylon.xds.translate import CLUSTER, translate, vhost_clusters
from tests.xds.test_stream import ack, subscribed

NAMES = ("a", "b", "c", "d")


def snapshot(routed: frozenset[str], extra: frozenset[str], previous: Snapshot | None) -> Snapshot:
    """A host per routed cluster, and clusters for `routed | extra`."""
    hosts = tuple(ir.VirtualHost(f"rc/{n}", (n,), (ir.Route(f"r-{n}", ir.RouteMatch(),
                                                            backends=(ir.WeightedBackend(n, 1),)),))
                  for n in sorted(routed))
    return versioned(translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config="rc"),),
        route_configs=(ir.RouteConfig("rc", hosts),),
        clusters=tuple(ir.Cluster(n, (ir.Endpoint("127.0.0.1", 9000),))
                       for n in sorted(routed | extra)),
        secrets=())), previous)


def fresh_walk(stream: AdsStream, wanted: Snapshot) -> set[str]:
    used: set[str] = set()
    for held in stream.vhosts_in_envoy():
        assert held.message is not None
        used |= vhost_clusters(held.message)  # type: ignore[arg-type]
    return (set(stream.types[CLUSTER].acked) - set(wanted.resources.clusters)) & used


subsets = st.frozensets(st.sampled_from(NAMES))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(subsets, subsets, st.integers(0, 3)), min_size=1, max_size=8))
def test_kept_clusters_equal_a_fresh_walk(steps: list[tuple[frozenset[str],
                                                            frozenset[str], int]]) -> None:
    wanted = snapshot(steps[0][0], steps[0][1], None)
    stream = subscribed(wanted)
    for routed, extra, answers in steps:
        wanted = snapshot(routed, extra, wanted)
        pending = stream.responses(wanted)
        for response in pending[:answers]:  # Envoy answers some responses, not always all
            stream.on_request(ack(response))
        assert stream._referenced_clusters(wanted) == fresh_walk(stream, wanted)
