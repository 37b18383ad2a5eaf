"""Envoy's rejections with a real Envoy: a rejected piece costs only itself, and a corrected
resource is always sent again."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace

import aiohttp

from propylon.ir import model as ir
from propylon.xds.translate import translate
from test_tls_envoy import served_serial

from tests.certificates import self_signed
from xds_support import BackendFactory, EnvoyFactory, XdsFixture, free_port, wait_for

NODE = "default/nack"
REFUSED_REGEX = "/(?<=bar)x"  # Python's re accepts it, RE2 (and so Envoy) refuses it


def path_route(name: str, path: str, cluster: str, kind: ir.PathMatchType = "PathPrefix"
               ) -> ir.Route:
    return ir.Route(name, ir.RouteMatch(ir.PathMatch(kind, path)),
                    backends=(ir.WeightedBackend(cluster, 1),))


def http_gateway(port: int, routes: tuple[ir.Route, ...], clusters: dict[str, int]
                 ) -> ir.GatewayIR:
    """One HTTP listener on `port`, one host `h` with `routes`, the IR built directly so that
    nothing before Envoy judges it."""
    return ir.GatewayIR(
        key=ir.GatewayKey("default", "nack"),
        listeners=(ir.Listener("http", "127.0.0.1", port, port, "HTTP", route_config="rc"),),
        route_configs=(ir.RouteConfig("rc", (ir.VirtualHost("rc/h", ("h",), routes),)),),
        clusters=tuple(ir.Cluster(n, (ir.Endpoint("127.0.0.1", p),))
                       for n, p in sorted(clusters.items())),
        secrets=())


async def body(session: aiohttp.ClientSession, port: int, path: str) -> str | None:
    try:
        async with session.get(f"http://127.0.0.1:{port}{path}",
                               headers={"Host": "h"}) as response:
            return await response.text() if response.status == 200 else str(response.status)
    except aiohttp.ClientError:
        return None


async def test_other_routes_on_a_hostname_keep_changing_after_a_refused_route(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """Finding 2: a route Envoy refuses joins a served hostname; a later change of another route
    on that hostname is served, and the refused route is reported with Envoy's message."""
    clusters = {"a": await backend_factory("a"), "b": await backend_factory("b")}
    port = free_port()
    old = path_route("old", "/old", "a")
    xds.cache.set(NODE, translate(http_gateway(port, (old,), clusters)))
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await wait_for(lambda: _is(body(session, port, "/old"), "a"), what="/old served")
        bad = path_route("bad", REFUSED_REGEX, "b", "RegularExpression")
        xds.cache.set(NODE, translate(http_gateway(port, (bad, old), clusters)))
        await wait_for(lambda: _true("bad" in _routes(xds)), what="the bad route reported")
        assert "(?<=" in _routes(xds)["bad"]
        new = path_route("new", "/new", "b")
        xds.cache.set(NODE, translate(http_gateway(port, (bad, new, old), clusters)))
        await wait_for(lambda: _is(body(session, port, "/new"), "b"), what="/new served")
        assert await body(session, port, "/old") == "a"
        assert set(_routes(xds)) == {"bad"}

        fixed = path_route("bad", "/x", "b", "RegularExpression")
        xds.cache.set(NODE, translate(http_gateway(port, (fixed, new, old), clusters)))
        await wait_for(lambda: _is(body(session, port, "/x"), "b"), what="the fixed route")
        await wait_for(lambda: _true(not xds.cache.rejections()), what="no rejection left")


async def test_a_first_version_with_refused_routes_serves_the_others(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """No acknowledged predecessor: the refused routes are found by bisection."""
    clusters = {"a": await backend_factory("a")}
    port = free_port()
    routes = (path_route("r1", "/one", "a"),
              path_route("bad1", REFUSED_REGEX, "a", "RegularExpression"),
              path_route("r2", "/two", "a"), path_route("r3", "/three", "a"),
              path_route("bad2", "/(a)\\1", "a", "RegularExpression"),
              path_route("r4", "/four", "a"))
    xds.cache.set(NODE, translate(http_gateway(port, routes, clusters)))
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        for path in ("/one", "/two", "/three", "/four"):
            await wait_for(lambda p=path: _is(body(session, port, p), "a"), what=path)
    assert _routes(xds) == {"bad1": "invalid perl operator: (?<=",
                            "bad2": "invalid escape sequence: \\1"}


def _routes(xds: XdsFixture) -> dict[str, str]:
    rejections = xds.cache.rejections().get(NODE)
    return dict(rejections.routes) if rejections is not None else {}


async def _is(value: Awaitable[str | None], want: str) -> bool:
    return await value == want


async def _true(value: bool) -> bool:
    return value


def https_gateway(ports: tuple[int, int], backend: int, secret: ir.Secret | None
                  ) -> ir.GatewayIR:
    """An HTTP listener on `ports[0]` and, with `secret`, an HTTPS listener on `ports[1]`."""
    http, https = ports
    route = ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend("ns/app/80", 1),))
    listeners = [ir.Listener("http", "127.0.0.1", http, http, "HTTP", route_config="rc-http")]
    if secret is not None:
        listeners.append(ir.Listener("https", "127.0.0.1", https, https, "HTTPS", tls_chains=(
            ir.TLSFilterChain("https", (), (secret.name,), "rc-https"),)))
    return ir.GatewayIR(
        key=ir.GatewayKey("default", "nack"), listeners=tuple(listeners),
        route_configs=tuple(ir.RouteConfig(rc, (ir.VirtualHost(f"{rc}/any", ("*",), (route,)),))
                            for rc in ("rc-http", "rc-https")),
        clusters=(ir.Cluster("ns/app/80", (ir.Endpoint("127.0.0.1", backend),)),),
        secrets=() if secret is None else (secret,))


async def test_tls_listener_comes_back_once_its_mismatched_secret_is_fixed(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """Finding 3: listener down (Secret deleted), Secret back with a key that does not match its
    certificate (rejected), then fixed: the HTTPS port serves again."""
    backend = await backend_factory("app")
    ports = (free_port(), free_port())
    good = ir.Secret("default/cert", *self_signed("a.example.com", serial=7001))
    other = self_signed("a.example.com", serial=7002)
    xds.cache.set(NODE, translate(https_gateway(ports, backend, good)))
    await envoy_factory(NODE, xds.port)

    async def serial(want: int | None) -> bool:
        try:
            return await served_serial(ports[1], "a.example.com") == want
        except OSError:
            return want is None

    await wait_for(lambda: serial(7001), what="HTTPS listener")
    xds.cache.set(NODE, translate(https_gateway(ports, backend, None)))
    await wait_for(lambda: serial(None), what="HTTPS listener removed")
    xds.cache.set(NODE, translate(https_gateway(ports, backend, ir.Secret(
        "default/cert", good.certificate_chain, other[1]))))
    await wait_for(lambda: _nacked(xds), what="the mismatched secret rejected")
    fixed = ir.Secret("default/cert", other[0], other[1])
    xds.cache.set(NODE, translate(https_gateway(ports, backend, fixed)))
    await wait_for(lambda: serial(7002), what="HTTPS listener with the fixed secret")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{ports[0]}/") as response:
            assert await response.text() == "app"


async def _nacked(xds: XdsFixture) -> bool:
    return xds.server.last_nack(NODE) is not None


async def test_a_listener_rebuilt_after_a_refused_secret_gets_the_good_one_again(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    """Envoy keeps the content of a secret it refused: a listener rebuilt afterwards fails on
    it, so the good secret, though Envoy acknowledged it before, is sent again."""
    backend = await backend_factory("app")
    ports = (free_port(), free_port())
    first, second = self_signed("a.example.com", serial=7101), self_signed("a.example.com", serial=7102)
    good = ir.Secret("default/cert", *first)
    xds.cache.set(NODE, translate(https_gateway(ports, backend, good)))
    await envoy_factory(NODE, xds.port)
    await wait_for(lambda: _serial(ports[1], 7101), what="HTTPS listener")
    xds.cache.set(NODE, translate(https_gateway(ports, backend, ir.Secret(
        "default/cert", first[0], second[1]))))
    await wait_for(lambda: _nacked(xds), what="the mismatched secret rejected")
    rebuilt = https_gateway(ports, backend, good)
    chain = replace(rebuilt.listeners[1].tls_chains[0], server_names=("a.example.com",))
    rebuilt = replace(rebuilt, listeners=(rebuilt.listeners[0], replace(
        rebuilt.listeners[1], tls_chains=(chain,))))
    xds.cache.set(NODE, translate(rebuilt))
    await wait_for(lambda: _true(not xds.cache.rejections()), what="no rejection left")
    assert await served_serial(ports[1], "a.example.com") == 7101


async def _serial(port: int, want: int) -> bool:
    try:
        return await served_serial(port, "a.example.com") == want
    except OSError:
        return False
