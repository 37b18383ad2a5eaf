"""The delta ADS server driving a real Envoy: routing by Host, 404 for unknown hosts, route and
endpoint changes (endpoints alone sent over EDS alone, one changed host as one VHDS virtual
host), removed hosts, a new port's route table, make-before-break, NACKs, weighted splits,
unresolvable backends, and several Envoys at once."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
from xds_support import BackendFactory, EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.infra.host.envoy_admin import admin_get
from propylon.ir import model as ir
from propylon.xds.translate import CLUSTER, ENDPOINT, VHOST, translate

NODE = "default/gw"


def cluster(name: str, port: int) -> ir.Cluster:
    return ir.Cluster(name=name, endpoints=(ir.Endpoint("127.0.0.1", port),))


def simple_route(name: str, *backends: ir.WeightedBackend, path: str = "/") -> ir.Route:
    return ir.Route(name, ir.RouteMatch(ir.PathMatch("PathPrefix", path)), backends=backends)


def gateway(listen_port: int, hosts: dict[str, tuple[ir.Route, ...]],
            clusters: tuple[ir.Cluster, ...], node: str = NODE,
            more_ports: dict[int, dict[str, tuple[ir.Route, ...]]] | None = None) -> ir.GatewayIR:
    ns, name = node.split("/")
    ports = {listen_port: hosts, **(more_ports or {})}
    return ir.GatewayIR(
        key=ir.GatewayKey(ns, name),
        listeners=tuple(ir.Listener(f"{node}/{port}", "127.0.0.1", port, port, "HTTP",
                                    route_config=f"{node}/{port}") for port in sorted(ports)),
        route_configs=tuple(ir.RouteConfig(f"{node}/{port}", tuple(
            ir.VirtualHost(f"{node}/{port}/{host}", (host,), routes)
            for host, routes in sorted(ports[port].items()))) for port in sorted(ports)),
        clusters=clusters,
        secrets=(),
    )


def to(cluster_name: str | None, weight: int = 1) -> ir.WeightedBackend:
    return ir.WeightedBackend(cluster_name, weight)


async def get(session: aiohttp.ClientSession, port: int, host: str,
              path: str = "/") -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}) as response:
        return response.status, await response.text()


async def until_served(session: aiohttp.ClientSession, port: int, host: str, want: tuple[int, str],
                       path: str = "/") -> None:
    async def served() -> bool:
        try:
            return await get(session, port, host, path) == want
        except aiohttp.ClientError:
            return False

    await wait_for(served, what=f"{host}{path} -> {want}")


async def test_routes_by_host_and_follows_route_changes(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    a, b = await backend_factory("a"), await backend_factory("b")
    port = free_port()
    clusters = (cluster("ns/a/80", a), cluster("ns/b/80", b))
    xds.cache.set(NODE, translate(gateway(port, {
        "a.example.com": (simple_route("ra", to("ns/a/80")),),
        "b.example.com": (simple_route("rb", to("ns/b/80")),),
    }, clusters)))
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "a.example.com", (200, "a"))
        assert await get(session, port, "b.example.com:8080") == (200, "b")  # port ignored
        assert (await get(session, port, "unknown.example.com"))[0] == 404

        xds.cache.set(NODE, translate(gateway(port, {
            "a.example.com": (simple_route("ra", to("ns/b/80")),),
        }, clusters)))
        await until_served(session, port, "a.example.com", (200, "b"))
        assert (await get(session, port, "b.example.com"))[0] == 404


async def test_endpoint_change_is_sent_over_eds_only(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    old, new = await backend_factory("old"), await backend_factory("new")
    port = free_port()
    hosts = {"svc": (simple_route("r", to("ns/svc/80")),)}
    xds.cache.set(NODE, translate(gateway(port, hosts, (cluster("ns/svc/80", old),))))
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "svc", (200, "old"))
        counters = xds.server.counters(NODE)
        pushes_before, acks_before = Counter(counters.pushes), Counter(counters.acks)

        xds.cache.set(NODE, translate(gateway(port, hosts, (cluster("ns/svc/80", new),))))
        await until_served(session, port, "svc", (200, "new"))
        await wait_for(lambda: _true(counters.acks[ENDPOINT] > acks_before[ENDPOINT]),
                       what="EDS ACK")
        sent = counters.pushes - pushes_before
        assert sent == Counter({ENDPOINT: 1})


async def _true(value: bool) -> bool:
    return value


async def test_new_cluster_and_route_switch_without_errors(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """Make-before-break: a route moved to a brand-new cluster never answers 503."""
    a, b = await backend_factory("a"), await backend_factory("b")
    port = free_port()
    xds.cache.set(NODE, translate(gateway(port, {"h": (simple_route("r", to("ns/a/80")),)},
                                          (cluster("ns/a/80", a),))))
    envoy = await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "h", (200, "a"))
        statuses: Counter[int] = Counter()
        bodies: Counter[str] = Counter()
        stop = asyncio.Event()

        async def hammer() -> None:
            while not stop.is_set():
                status, body = await get(session, port, "h")
                statuses[status] += 1
                bodies[body] += 1

        loop = asyncio.create_task(hammer())
        await asyncio.sleep(0.2)
        # The old cluster disappears in the same push that adds the new one.
        xds.cache.set(NODE, translate(gateway(port, {"h": (simple_route("r", to("ns/b/80")),)},
                                              (cluster("ns/b/80", b),))))
        await wait_for(lambda: _true(bodies["b"] > 20), what="traffic on the new cluster")
        stop.set()
        await loop
        assert set(statuses) == {200}, statuses

        # Once the new routes are acknowledged, the old cluster is removed from Envoy.
        async def old_cluster_gone() -> bool:
            text = (await admin_get(envoy.admin, "/clusters"))[1]
            return "ns/a/80::" not in text and "ns/b/80::" in text

        await wait_for(old_cluster_gone, what="old cluster removed after the route ACK")


async def test_rejected_push_is_recorded_and_last_good_config_kept(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    a = await backend_factory("a")
    port = free_port()
    clusters = (cluster("ns/a/80", a),)
    xds.cache.set(NODE, translate(gateway(port, {"h": (simple_route("r", to("ns/a/80")),)},
                                          clusters)))
    await envoy_factory(NODE, xds.port)
    nacks: list[str] = []
    xds.server.subscribe(lambda e: nacks.append(e.type_url) if e.kind == "nack" else None)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "h", (200, "a"))
        assert xds.server.last_nack(NODE) is None
        bad = ir.Route("bad", ir.RouteMatch(ir.PathMatch("RegularExpression", "/(unclosed")),
                       backends=(to("ns/a/80"),))
        bad_resources = translate(gateway(port, {"h": (bad, simple_route("r", to("ns/a/80")))},
                                          clusters))
        xds.cache.set(NODE, bad_resources)
        await wait_for(lambda: _true("bad" in _refused_routes(xds)), what="NACK")
        assert nacks == [VHOST]
        assert "/(unclosed" in _refused_routes(xds)["bad"]
        # the host is served without the refused route: its ACK clears the last NACK
        await wait_for(lambda: _true(xds.server.last_nack(NODE) is None), what="host without it")
        assert await get(session, port, "h") == (200, "a")

        route_pushes = xds.server.counters(NODE).pushes[VHOST]
        xds.cache.set(NODE, bad_resources)  # the refused route is never sent again
        xds.cache.set(NODE, translate(gateway(port, {
            "h": (simple_route("r", to("ns/a/80")),),
            "h2": (simple_route("r2", to("ns/a/80")),)}, clusters)))
        await until_served(session, port, "h2", (200, "a"))
        assert xds.server.counters(NODE).pushes[VHOST] == route_pushes + 1
        assert xds.server.last_nack(NODE) is None


def _refused_routes(xds: XdsFixture) -> dict[str, str]:
    rejections = xds.cache.rejections().get(NODE)
    return dict(rejections.routes) if rejections is not None else {}


async def test_weighted_split_and_unresolvable_backends(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    a, b = await backend_factory("a"), await backend_factory("b")
    port = free_port()
    xds.cache.set(NODE, translate(gateway(port, {
        "split": (simple_route("s", to("ns/a/80", 3), to("ns/b/80", 1)),),
        "half-invalid": (simple_route("h", to("ns/a/80", 1), to(None, 1)),),
        "all-invalid": (simple_route("i", to(None, 1), to(None, 2)),),
    }, (cluster("ns/a/80", a), cluster("ns/b/80", b)))))
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "all-invalid", (500, ""))
        split: Counter[str] = Counter()
        half: Counter[int] = Counter()
        for _ in range(200):
            split[(await get(session, port, "split"))[1]] += 1
            half[(await get(session, port, "half-invalid"))[0]] += 1
        assert set(split) == {"a", "b"} and 100 <= split["a"] <= 190, split
        assert set(half) == {200, 500} and 50 <= half[500] <= 150, half


async def test_several_envoys_get_their_own_snapshots(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    a, b = await backend_factory("a"), await backend_factory("b")
    port_a, port_b = free_port(), free_port()
    # node "ns/two" connects before its snapshot exists and waits for it
    await envoy_factory("ns/two", xds.port, wait_ready=False)
    xds.cache.set("ns/one", translate(gateway(port_a, {"h": (simple_route("r", to("c")),)},
                                              (cluster("c", a),), node="ns/one")))
    await envoy_factory("ns/one", xds.port)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port_a, "h", (200, "a"))
        xds.cache.set("ns/two", translate(gateway(port_b, {"h": (simple_route("r", to("c")),)},
                                                  (cluster("c", b),), node="ns/two")))
        await until_served(session, port_b, "h", (200, "b"))
        assert await get(session, port_a, "h") == (200, "a")


async def test_one_route_change_sends_one_virtual_host(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """VHDS: of 50 hosts, the one whose route changed is the only resource pushed; a removed
    host stops being served, unknown hosts get Envoy's 404, and a new port's route table gets
    its virtual hosts too."""
    a, b = await backend_factory("a"), await backend_factory("b")
    port, other_port = free_port(), free_port()
    clusters = (cluster("ns/a/80", a), cluster("ns/b/80", b))
    hosts = {f"h{i}.example.com": (simple_route(f"r{i}", to("ns/a/80")),) for i in range(50)}
    xds.cache.set(NODE, translate(gateway(port, hosts, clusters)))
    await envoy_factory(NODE, xds.port)
    counters = xds.server.counters(NODE)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "h49.example.com", (200, "a"))
        await wait_for(lambda: _true(counters.acks[VHOST] == counters.pushes[VHOST]),
                       what="VHDS ACK")
        before = {f: Counter(getattr(counters, f)) for f in ("pushes", "resources", "removals")}

        hosts["h7.example.com"] = (simple_route("r7", to("ns/b/80")),)
        xds.cache.set(NODE, translate(gateway(port, hosts, clusters)))
        await until_served(session, port, "h7.example.com", (200, "b"))
        await wait_for(lambda: _true(counters.acks[VHOST] == counters.pushes[VHOST]),
                       what="VHDS ACK")
        assert counters.pushes - before["pushes"] == Counter({VHOST: 1})
        assert counters.resources - before["resources"] == Counter({VHOST: 1})
        assert counters.removals == before["removals"]
        assert await get(session, port, "h8.example.com") == (200, "a")
        assert (await get(session, port, "unknown.example.com"))[0] == 404

        del hosts["h3.example.com"]
        xds.cache.set(NODE, translate(gateway(port, hosts, clusters)))
        await until_served(session, port, "h3.example.com", (404, ""))
        assert counters.removals - before["removals"] == Counter({VHOST: 1})
        assert counters.resources - before["resources"] == Counter({VHOST: 1})

        xds.cache.set(NODE, translate(gateway(port, hosts, clusters, more_ports={
            other_port: {"new.example.com": (simple_route("n", to("ns/b/80")),)}})))
        await until_served(session, other_port, "new.example.com", (200, "b"))
        assert await get(session, port, "h7.example.com") == (200, "b")


async def test_a_changed_cluster_warms_on_endpoints_sent_again(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """Envoy rebuilds a changed cluster and does not ask for its endpoints again (the name is
    subscribed already): they are resent, so it warms at once rather than after 15 s."""
    a = await backend_factory("a")
    port = free_port()
    hosts = {"h": (simple_route("r", to("ns/a/80")),)}
    xds.cache.set(NODE, translate(gateway(port, hosts, (cluster("ns/a/80", a),))))
    envoy = await envoy_factory(NODE, xds.port)
    counters = xds.server.counters(NODE)
    async with aiohttp.ClientSession() as session:
        await until_served(session, port, "h", (200, "a"))
        eds_before = counters.resources[ENDPOINT]
        changed = ir.Cluster("ns/a/80", (ir.Endpoint("127.0.0.1", a),), protocol="h2c")
        xds.cache.set(NODE, translate(gateway(port, hosts, (changed,))))

        async def warm() -> bool:
            stats = (await admin_get(envoy.admin, "/stats?filter=cluster_manager.warming_clusters"))[1]
            warming = stats.endswith(": 0")
            return warming and counters.acks[CLUSTER] >= 2

        await wait_for(warm, timeout=5.0, what="the changed cluster warmed")
        assert counters.resources[ENDPOINT] == eds_before + 1


async def test_pending_counts_pushes_until_envoy_answers_them(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """`pending(node)`: None before the node connects; 0 once its Envoy answered every push,
    and then the configuration is served without re-sending anything; a change is pending
    again until answered."""
    a, b = await backend_factory("a"), await backend_factory("b")
    port = free_port()
    clusters = (cluster("ns/a/80", a), cluster("ns/b/80", b))
    xds.cache.set(NODE, translate(gateway(port, {
        "a.example.com": (simple_route("ra", to("ns/a/80")),)}, clusters)))
    assert xds.server.pending(NODE) is None
    await envoy_factory(NODE, xds.port)

    async def settled() -> bool:
        return xds.server.pending(NODE) == 0

    await wait_for(settled, what="every push answered")
    async with aiohttp.ClientSession() as session:
        assert await get(session, port, "a.example.com") == (200, "a")
        xds.cache.set(NODE, translate(gateway(port, {
            "a.example.com": (simple_route("ra", to("ns/b/80")),)}, clusters)))
        assert xds.server.pending(NODE) != 0  # the wake-up is not handled yet
        await wait_for(settled, what="the change answered")
        assert await get(session, port, "a.example.com") == (200, "b")
