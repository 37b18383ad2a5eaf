"""Whatever the sequence of snapshots, and however many responses Envoy answered in between,
once Envoy answers everything its resources are exactly the last snapshot's, less the routes it
refuses (Hypothesis, with a simulated Envoy that follows CDS with its EDS subscriptions and, like
Envoy's VHDS, refuses a whole response with a route whose regex RE2 refuses)."""

from __future__ import annotations

from envoy.config.route.v3.route_components_pb2 import VirtualHost
from envoy.service.discovery.v3.discovery_pb2 import DeltaDiscoveryRequest, DeltaDiscoveryResponse
from hypothesis import example, given, settings
from hypothesis import strategies as st

from propylon.ir import model as ir
from propylon.xds.server.cache import Snapshot, versioned
from propylon.xds.server.stream import AdsStream
from propylon.xds.translate import CLUSTER, ENDPOINT, TYPE_URLS, VHOST, translate
from tests.xds.test_stream import ack, subscribed

NAMES = ("a", "b", "c")
REFUSED = "(?<=bar)"  # RE2 refuses lookbehinds


class Envoy:
    """What Envoy holds per type (name -> version), updated by the responses it answers."""

    def __init__(self, endpoints: set[str]) -> None:
        self.held: dict[str, dict[str, str]] = {t: {} for t in TYPE_URLS}
        self.routes: dict[str, list[str]] = {}  # virtual host -> its route names
        self.endpoints = endpoints  # the EDS names subscribed to (those of its clusters)

    def answer(self, stream: AdsStream, response: DeltaDiscoveryResponse) -> None:
        if response.type_url == VHOST:
            hosts = {r.name: VirtualHost.FromString(r.resource.value) for r in response.resources}
            if any(REFUSED in route.match.safe_regex.regex
                   for host in hosts.values() for route in host.routes):
                stream.on_request(ack(response, "invalid perl operator: (?<="))
                return
            for name in response.removed_resources:
                self.routes.pop(name, None)
            self.routes.update((n, [r.name for r in h.routes]) for n, h in hosts.items())
        held = self.held[response.type_url]
        for name in response.removed_resources:
            held.pop(name, None)
        held.update((r.name, r.version) for r in response.resources
                    if response.type_url != ENDPOINT or r.name in self.endpoints)
        stream.on_request(ack(response))
        if response.type_url == CLUSTER:
            gone = list(response.removed_resources)
            for name in gone:
                self.held[ENDPOINT].pop(name, None)
            self.endpoints.difference_update(gone)
            self.endpoints.update(r.name for r in response.resources)
            stream.on_request(DeltaDiscoveryRequest(
                type_url=ENDPOINT, resource_names_unsubscribe=gone,
                resource_names_subscribe=[r.name for r in response.resources]))


def snapshot(routes: dict[str, str], extra: frozenset[str], port: int, refused: frozenset[str],
             previous: Snapshot | None) -> Snapshot:
    """A host per entry of `routes` (host -> cluster), clusters for those and `extra`; hosts in
    `refused` have a route Envoy refuses before their own."""
    def host_routes(h: str, c: str) -> tuple[ir.Route, ...]:
        bad = ir.Route(f"bad-{h}", ir.RouteMatch(ir.PathMatch("RegularExpression",
                                                               f"/{REFUSED}{c}")),
                       backends=(ir.WeightedBackend(c, 1),))
        return (bad,) * (h in refused) + (ir.Route(f"r-{h}", ir.RouteMatch(), backends=(
            ir.WeightedBackend(c, 1),)),)

    hosts = tuple(ir.VirtualHost(f"rc/{h}", (h,), host_routes(h, c))
                  for h, c in sorted(routes.items()))
    return versioned(translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config="rc"),),
        route_configs=(ir.RouteConfig("rc", hosts),),
        clusters=tuple(ir.Cluster(n, (ir.Endpoint("127.0.0.1", port),))
                       for n in sorted(set(routes.values()) | extra)),
        secrets=())), previous)


steps = st.lists(st.tuples(st.dictionaries(st.sampled_from(("h1", "h2", "h3")),
                                           st.sampled_from(NAMES)),
                           st.frozensets(st.sampled_from(NAMES)), st.integers(9000, 9001),
                           st.frozensets(st.sampled_from(("h1", "h2", "h3"))),
                           st.integers(0, 4)), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(steps)
@example([({}, frozenset(), 9000, frozenset(), 3), ({"h1": "a"}, frozenset(), 9000, frozenset(), 3),
          ({}, frozenset(), 9000, frozenset(), 0), ({}, frozenset({"a"}), 9000, frozenset(), 0),
          ({}, frozenset(), 9000, frozenset(), 0)])  # endpoints in flight when their cluster goes
def test_envoy_ends_with_the_last_snapshot(sequence: list[tuple[
        dict[str, str], frozenset[str], int, frozenset[str], int]]) -> None:
    wanted = snapshot(*sequence[0][:4], None)
    envoy = Envoy(set(wanted.resources.clusters))
    stream = subscribed(wanted)
    pending: list[DeltaDiscoveryResponse] = []
    for routes, extra, port, refused, answers in sequence:
        wanted = snapshot(routes, extra, port, refused, wanted)
        pending += stream.responses(wanted)
        for response in pending[:answers]:
            envoy.answer(stream, response)
        pending = pending[answers:]
    pending += stream.responses(wanted)
    while pending:
        envoy.answer(stream, pending.pop(0))
        pending += stream.responses(wanted)
    last_routes, last_refused = sequence[-1][0], sequence[-1][3]
    for type_url in TYPE_URLS:
        if type_url == VHOST:
            assert envoy.routes == {f"rc/{h}": [f"r-{h}"] for h in last_routes}
        else:
            assert envoy.held[type_url] == dict(wanted.versions[type_url]), type_url
    assert stream.rejections().routes.keys() == {f"bad-{h}" for h in last_routes
                                                 if h in last_refused}
