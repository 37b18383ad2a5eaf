"""The ADS stream state machine without Envoy: ordering, stale nonces, NACKed versions."""

from __future__ import annotations

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.service.discovery.v3.discovery_pb2 import DiscoveryRequest, DiscoveryResponse

from propylon.ir import model as ir
from propylon.xds.server.stream import AdsStream
from propylon.xds.translate import CLUSTER, ENDPOINT, LISTENER, ROUTE, XdsResources, translate


def resources(cluster: str, port: int = 9000) -> XdsResources:
    route = ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend(cluster, 1),))
    return translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config="rc"),),
        route_configs=(ir.RouteConfig("rc", (ir.VirtualHost("h", ("h",), (route,)),)),),
        clusters=(ir.Cluster(cluster, (ir.Endpoint("127.0.0.1", port),)),), secrets=()))


def ack(response: DiscoveryResponse, names: tuple[str, ...] = ()) -> DiscoveryRequest:
    return DiscoveryRequest(type_url=response.type_url, version_info=response.version_info,
                            response_nonce=response.nonce, resource_names=names)


def converge(stream: AdsStream, wanted: XdsResources,
             pending: list[DiscoveryResponse]) -> list[str]:
    """Answer like Envoy (ACK, then subscribe EDS to the clusters received) until quiet;
    returns the type URLs sent, in order."""
    sent: list[str] = []
    while pending:
        response = pending.pop(0)
        sent.append(response.type_url)
        names = {ENDPOINT: stream.types[ENDPOINT].names or (), ROUTE: tuple(wanted.routes)}
        stream.on_request(ack(response, tuple(names.get(response.type_url, ()))))
        if response.type_url == CLUSTER:
            clusters = [Cluster.FromString(r.value).name for r in response.resources]
            stream.on_request(DiscoveryRequest(type_url=ENDPOINT, resource_names=clusters,
                                               response_nonce=stream.types[ENDPOINT].nonce))
        pending.extend(stream.responses(wanted))
    return sent


def subscribed(wanted: XdsResources) -> AdsStream:
    stream = AdsStream()
    stream.on_request(DiscoveryRequest(type_url=CLUSTER))
    stream.on_request(DiscoveryRequest(type_url=LISTENER))
    stream.on_request(DiscoveryRequest(type_url=ENDPOINT, resource_names=list(wanted.clusters)))
    stream.on_request(DiscoveryRequest(type_url=ROUTE, resource_names=list(wanted.routes)))
    return stream


def test_listeners_and_routes_wait_for_cluster_and_endpoint_acks() -> None:
    first = resources("a")
    stream = subscribed(first)
    initial = stream.responses(first)
    assert [r.type_url for r in initial] == [CLUSTER, ENDPOINT]
    assert converge(stream, first, initial) == [CLUSTER, ENDPOINT, LISTENER, ROUTE]
    second = resources("b")
    sent = stream.responses(second)
    assert [r.type_url for r in sent] == [CLUSTER]
    # the old cluster stays until routes without it are acknowledged
    assert {r.value for r in sent[0].resources} >= {first.clusters["a"].SerializeToString()}
    # clusters a+b, endpoints of a+b, routes to b; then clusters and endpoints without a, and
    # the answer to Envoy's narrowed EDS subscription
    order = converge(stream, second, sent)
    assert order == [CLUSTER, ENDPOINT, ROUTE, CLUSTER, ENDPOINT, ENDPOINT]
    assert set(stream.types[CLUSTER].acked) == {"b"}


def test_stale_nonce_is_ignored_and_rejected_version_never_resent() -> None:
    wanted = resources("a")
    stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    moved = resources("a", port=9001)
    (eds,) = stream.responses(moved)
    assert stream.on_request(DiscoveryRequest(type_url=ENDPOINT, response_nonce="stale")) is None
    assert stream.types[ENDPOINT].in_flight
    nack = ack(eds, ("a",))
    nack.error_detail.message = "bad"
    answer = stream.on_request(nack)
    assert answer is not None and answer.kind == "nack" and answer.error == "bad"
    assert stream.responses(moved) == []
    assert [r.type_url for r in stream.responses(resources("a", port=9002))] == [ENDPOINT]
