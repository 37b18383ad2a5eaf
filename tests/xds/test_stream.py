"""The delta ADS stream state machine without Envoy: make-before-break ordering, one virtual host
per changed hostname, removals, stale nonces, NACKed versions, reconnection, the splitting of a
refused response and the isolation of a refused route."""

from __future__ import annotations

from envoy.service.discovery.v3.discovery_pb2 import DeltaDiscoveryRequest, DeltaDiscoveryResponse

from propylon.ir import model as ir
from propylon.xds.server.cache import Snapshot, versioned
from propylon.xds.server.stream import AdsStream
from propylon.xds.translate import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, VHOST, translate

RC = "ns/gw/80"


def resources(cluster: str, port: int = 9000, hosts: tuple[str, ...] = ("h",),
              previous: Snapshot | None = None) -> Snapshot:
    route = ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend(cluster, 1),))
    return versioned(translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config=RC),),
        route_configs=(ir.RouteConfig(RC, tuple(
            ir.VirtualHost(f"{RC}/{h}", (h,), (route,)) for h in hosts)),),
        clusters=(ir.Cluster(cluster, (ir.Endpoint("127.0.0.1", port),)),), secrets=())),
        previous)


def ack(response: DeltaDiscoveryResponse, error: str = "") -> DeltaDiscoveryRequest:
    request = DeltaDiscoveryRequest(type_url=response.type_url, response_nonce=response.nonce)
    if error:
        request.error_detail.message = error
    return request


def converge(stream: AdsStream, wanted: Snapshot,
             pending: list[DeltaDiscoveryResponse]) -> list[DeltaDiscoveryResponse]:
    """Answer like Envoy (ACK; follow CDS with EDS subscriptions) until quiet; returns the
    responses, in order."""
    sent: list[DeltaDiscoveryResponse] = []
    while pending:
        response = pending.pop(0)
        sent.append(response)
        stream.on_request(ack(response))
        if response.type_url == CLUSTER:
            stream.on_request(DeltaDiscoveryRequest(
                type_url=ENDPOINT, resource_names_subscribe=[r.name for r in response.resources],
                resource_names_unsubscribe=response.removed_resources))
        pending.extend(stream.responses(wanted))
    return sent


def types(responses: list[DeltaDiscoveryResponse]) -> list[str]:
    return [r.type_url for r in responses]


def subscribed(wanted: Snapshot) -> AdsStream:
    stream = AdsStream()
    stream.on_request(DeltaDiscoveryRequest(type_url=CLUSTER))
    stream.on_request(DeltaDiscoveryRequest(type_url=LISTENER))
    stream.on_request(DeltaDiscoveryRequest(
        type_url=ENDPOINT, resource_names_subscribe=list(wanted.resources.clusters)))
    stream.on_request(DeltaDiscoveryRequest(
        type_url=ROUTE, resource_names_subscribe=list(wanted.resources.routes)))
    stream.on_request(DeltaDiscoveryRequest(type_url=VHOST))  # VHDS names nothing
    return stream


def test_routes_wait_for_cluster_acks_and_clusters_go_after_the_routes() -> None:
    first = resources("a")
    stream = subscribed(first)
    initial = stream.responses(first)
    assert types(initial) == [CLUSTER, ENDPOINT]
    assert types(converge(stream, first, initial)) == [CLUSTER, ENDPOINT, LISTENER, ROUTE, VHOST]
    second = resources("b", previous=first)
    sent = stream.responses(second)
    # cluster b is added; a stays while a virtual host Envoy has still routes to it
    assert [(r.type_url, [x.name for x in r.resources], list(r.removed_resources))
            for r in sent] == [(CLUSTER, ["b"], [])]
    order = converge(stream, second, sent)
    assert [(r.type_url, [x.name for x in r.resources], list(r.removed_resources))
            for r in order] == [(CLUSTER, ["b"], []), (ENDPOINT, ["b"], []),
                                (VHOST, [f"{RC}/h"], []), (CLUSTER, [], ["a"])]
    assert set(stream.types[CLUSTER].acked) == {"b"} and set(stream.types[ENDPOINT].acked) == {"b"}


def test_one_changed_host_is_one_virtual_host_and_a_gone_host_is_removed() -> None:
    first = resources("a", hosts=("h1", "h2", "h3"))
    stream = subscribed(first)
    converge(stream, first, stream.responses(first))
    (update,) = stream.responses(resources("a", hosts=("h1", "h2", "h3", "h4"), previous=first))
    assert update.type_url == VHOST and [r.name for r in update.resources] == [f"{RC}/h4"]
    stream.on_request(ack(update))
    (removal,) = stream.responses(resources("a", hosts=("h1", "h3"), previous=first))
    assert removal.type_url == VHOST and not removal.resources
    assert list(removal.removed_resources) == [f"{RC}/h2", f"{RC}/h4"]


def test_stale_nonce_is_ignored_and_rejected_version_never_resent() -> None:
    wanted = resources("a")
    stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    moved = resources("a", port=9001, previous=wanted)
    (eds,) = stream.responses(moved)
    stale = DeltaDiscoveryRequest(type_url=ENDPOINT, response_nonce="stale")
    assert stream.on_request(stale) is None
    assert stream.types[ENDPOINT].pending is not None
    answer = stream.on_request(ack(eds, "bad"))
    assert answer is not None and answer.kind == "nack" and answer.error == "bad"
    assert answer.version == eds.system_version_info
    assert stream.responses(moved) == []
    (again,) = stream.responses(resources("a", port=9002, previous=moved))
    assert again.type_url == ENDPOINT
    assert stream.on_request(ack(again)) is not None
    assert stream.types[ENDPOINT].acked_version == again.system_version_info


def test_a_reconnecting_envoy_gets_only_what_it_lacks() -> None:
    wanted = resources("a")
    old = stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    had = {t: {n: h.version for n, h in state.acked.items()} for t, state in old.types.items()}
    had[CLUSTER]["gone"] = "v0"
    had[VHOST][f"{RC}/h"] = "v0"  # content unknown: it may still route to "gone"
    stream = AdsStream()
    stream.on_request(DeltaDiscoveryRequest(type_url=CLUSTER,
                                            initial_resource_versions=had[CLUSTER]))
    stream.on_request(DeltaDiscoveryRequest(type_url=ENDPOINT, resource_names_subscribe=["a"],
                                            initial_resource_versions=had[ENDPOINT]))
    stream.on_request(DeltaDiscoveryRequest(type_url=LISTENER,
                                            initial_resource_versions=had[LISTENER]))
    stream.on_request(DeltaDiscoveryRequest(type_url=ROUTE, resource_names_subscribe=[RC],
                                            initial_resource_versions=had[ROUTE]))
    stream.on_request(DeltaDiscoveryRequest(type_url=VHOST, initial_resource_versions=had[VHOST]))
    sent = converge(stream, wanted, stream.responses(wanted))
    assert [(r.type_url, [x.name for x in r.resources], list(r.removed_resources))
            for r in sent if r.resources or r.removed_resources] == [
        (VHOST, [f"{RC}/h"], []), (CLUSTER, [], ["gone"])]


def test_an_unsubscribed_route_table_takes_its_virtual_hosts_along() -> None:
    wanted = resources("a", hosts=("h1", "h2"))
    stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    stream.on_request(DeltaDiscoveryRequest(type_url=ROUTE, resource_names_unsubscribe=[RC]))
    assert stream.types[VHOST].acked == {} and stream.responses(wanted) == []
    stream.on_request(DeltaDiscoveryRequest(type_url=ROUTE, resource_names_subscribe=[RC]))
    route, vhosts = stream.responses(wanted)
    assert route.type_url == ROUTE and len(vhosts.resources) == 2


def test_a_table_without_virtual_hosts_still_gets_a_first_vhds_update() -> None:
    wanted = resources("a", hosts=())
    stream = subscribed(wanted)
    *_, last = converge(stream, wanted, stream.responses(wanted))
    assert last.type_url == VHOST and not last.resources
    assert list(last.removed_resources) == [f"{RC}/"]
    assert stream.responses(resources("a", hosts=(), previous=wanted)) == []


def test_a_name_subscribed_to_again_is_sent_again_and_a_first_request_is_answered() -> None:
    wanted = resources("a")
    stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    # a rebuilt cluster asks for its endpoints again
    stream.on_request(DeltaDiscoveryRequest(type_url=ENDPOINT, resource_names_subscribe=["a"]))
    (eds,) = stream.responses(wanted)
    assert [r.name for r in eds.resources] == ["a"]
    # nothing to send, and still an answer to a first request (Envoy's initial fetch waits)
    empty = versioned(translate(ir.GatewayIR(key=ir.GatewayKey("ns", "gw"), listeners=(),
                                             route_configs=(), clusters=(), secrets=())))
    fresh = AdsStream()
    fresh.on_request(DeltaDiscoveryRequest(type_url=CLUSTER))
    (cds,) = fresh.responses(empty)
    assert cds.type_url == CLUSTER and not cds.resources and not cds.removed_resources
    fresh.on_request(ack(cds))
    assert fresh.responses(empty) == []


def test_a_rejected_cluster_does_not_hold_routes_back() -> None:
    wanted = resources("a")
    stream = subscribed(wanted)
    converge(stream, wanted, stream.responses(wanted))
    second = resources("b", previous=wanted)
    (cds,) = stream.responses(second)
    stream.on_request(ack(cds, "bad cluster"))  # Envoy never asks for b's endpoints
    (vhds,) = stream.responses(second)
    assert vhds.type_url == VHOST


def test_suspects_are_sent_one_per_response_and_a_lone_refusal_is_reported() -> None:
    first = resources("a", hosts=("h1", "h2"))
    stream = subscribed(first)
    converge(stream, first, stream.responses(first))
    second = resources("b", hosts=("h1", "h2"), previous=first)
    pending = stream.responses(second)
    while not any(r.type_url == VHOST for r in pending):
        pending = converge_one(stream, second, pending)
    [both] = [r for r in pending if r.type_url == VHOST]
    assert len(both.resources) == 2
    stream.on_request(ack(both, "refused"))
    alone = [r for r in stream.responses(second) if r.type_url == VHOST]
    assert [len(r.resources) for r in alone] == [1]
    stream.on_request(ack(alone[0]))
    [other] = [r for r in stream.responses(second) if r.type_url == VHOST]
    assert len(other.resources) == 1 and other.resources[0].name != alone[0].resources[0].name
    stream.on_request(ack(other, "refused"))  # a host whose one route Envoy refuses
    route = other.resources[0].name
    assert stream.rejections().routes == {"r": "refused"}
    [without] = [r for r in stream.responses(second) if r.type_url == VHOST]
    assert without.resources[0].name == route
    stream.on_request(ack(without))
    assert [r for r in stream.responses(second) if r.type_url == VHOST] == []
    assert stream.rejections().routes == {"r": "refused"}


def test_a_refused_listener_is_sent_again_once_envoy_applied_a_secret() -> None:
    wanted = resources("a")
    stream = subscribed(wanted)
    stream.on_request(DeltaDiscoveryRequest(type_url=SECRET, resource_names_subscribe=["s"]))
    listeners = converge_until(stream, wanted, LISTENER)
    stream.on_request(ack(listeners, "Failed to load private key"))
    assert stream.rejections().listeners == {"l": "Failed to load private key"}
    assert [r for r in stream.responses(wanted) if r.type_url == LISTENER] == []
    stream.types[SECRET].applied += 1  # Envoy acknowledged a new secret
    [again] = [r for r in stream.responses(wanted) if r.type_url == LISTENER]
    stream.on_request(ack(again))
    assert not stream.rejections()


def converge_one(stream: AdsStream, wanted: Snapshot, pending: list[DeltaDiscoveryResponse]
                 ) -> list[DeltaDiscoveryResponse]:
    """ACK the first response (following CDS with EDS); the responses then due."""
    first = pending[0]
    stream.on_request(ack(first))
    if first.type_url == CLUSTER:
        stream.on_request(DeltaDiscoveryRequest(
            type_url=ENDPOINT, resource_names_subscribe=[r.name for r in first.resources]))
    return pending[1:] + stream.responses(wanted)


def converge_until(stream: AdsStream, wanted: Snapshot, type_url: str) -> DeltaDiscoveryResponse:
    """ACK responses until one of `type_url` is due; returns it, unanswered."""
    pending = stream.responses(wanted)
    while True:
        for response in pending:
            if response.type_url == type_url:
                return response
        pending = converge_one(stream, wanted, pending)



def routed(cluster: str, protocol: ir.ClusterProtocol, port: int,
           previous: Snapshot | None) -> Snapshot:
    """Routes to `cluster` (with `protocol`, its one endpoint on `port`)."""
    route = ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend(cluster, 1),))
    return versioned(translate(ir.GatewayIR(
        key=ir.GatewayKey("ns", "gw"),
        listeners=(ir.Listener("l", "127.0.0.1", 80, 8080, "HTTP", route_config=RC),),
        route_configs=(ir.RouteConfig(RC, (ir.VirtualHost(f"{RC}/h", ("h",), (route,)),)),),
        clusters=(ir.Cluster(cluster, (ir.Endpoint("127.0.0.1", port),), protocol),),
        secrets=())), previous)


def test_a_cluster_sent_again_gets_its_endpoints_after_it() -> None:
    """Envoy warms a rebuilt cluster only on endpoints sent after it, and answers the cluster
    response only then (else it waits 15 s, and every later cluster change waits behind it)."""
    first = routed("a", "http1", 9000, None)
    stream = subscribed(first)
    converge(stream, first, stream.responses(first))
    moved = routed("a", "http1", 9001, first)
    [in_flight] = stream.responses(moved)  # new endpoints, not yet answered
    assert in_flight.type_url == ENDPOINT
    rebuilt = routed("a", "h2c", 9001, moved)
    [cluster] = stream.responses(rebuilt)
    assert cluster.type_url == CLUSTER
    stream.on_request(ack(in_flight))  # answered: but it was sent before the cluster
    [after] = [r for r in stream.responses(rebuilt) if r.type_url == ENDPOINT]
    assert [r.name for r in after.resources] == ["a"]
    # the same, but the next snapshot drops cluster a before its endpoints went: the last ones
    # sent for it go again
    for response in (after, cluster):
        stream.on_request(ack(response))
    moved = routed("a", "h2c", 9002, rebuilt)
    [in_flight] = stream.responses(moved)
    [cluster] = stream.responses(routed("a", "http1", 9002, moved))
    assert cluster.type_url == CLUSTER
    stream.on_request(ack(in_flight))
    gone = routed("b", "http1", 9000, moved)
    [last] = [r for r in stream.responses(gone) if r.type_url == ENDPOINT]
    assert [r.name for r in last.resources] == ["a"]
