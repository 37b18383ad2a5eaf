"""HTTPRoute extended features, from Gateway API objects through both translators to a real
Envoy: filters on backendRefs, retries (status codes, connection resets, per-try and request
timeouts), redirects, parentRef ports, mirrors, backend protocols (h2c, WebSocket)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from gateway_api_support import (
    NODE,
    Echo,
    Stack,
    echo_backend,
    h2c_backend,
    route,
    route_conditions,
    service,
)
from xds_support import EnvoyFactory, XdsFixture, wait_for

EchoFactory = Callable[[str], Awaitable[Echo]]


@pytest.fixture
async def echo_factory() -> AsyncIterator[EchoFactory]:
    async with AsyncExitStack() as stack:
        async def start(name: str) -> Echo:
            return await stack.enter_async_context(echo_backend(name))

        yield start


async def request(session: aiohttp.ClientSession, port: int, path: str,
                  headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers or {},
                           allow_redirects=False) as response:
        text = await response.text()
        is_echo = response.content_type == "application/json"
        return response.status, json.loads(text) if is_echo else {"body": text}


async def until(session: aiohttp.ClientSession, port: int, path: str, status: int) -> None:
    async def served() -> bool:
        try:
            return (await request(session, port, path))[0] == status
        except aiohttp.ClientError:
            return False

    await wait_for(served, what=f"{path} -> {status}")


async def test_request_header_modifiers_on_backend_refs(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1, v2 = await echo_factory("v1"), await echo_factory("v2")
    modifier = {"set": [{"name": "X-Header-Set", "value": "set-overwrites-values"}],
                "add": [{"name": "X-Header-Add", "value": "add-appends-values"}],
                "remove": ["X-Header-Remove"]}
    stack = Stack(objects=[*service("v1", v1.port), *service("v2", v2.port), route("r", {"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/one"}}],
         "backendRefs": [{"name": "v1", "port": 8080, "filters": [
             {"type": "RequestHeaderModifier", "requestHeaderModifier": modifier}]}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/split"}}],
         "backendRefs": [
             {"name": name, "port": 8080, "weight": 10, "filters": [
                 {"type": "RequestHeaderModifier",
                  "requestHeaderModifier": {"set": [{"name": "Backend", "value": name}]}}]}
             for name in ("v1", "v2")]},
    ]})])
    result = stack.program(xds)
    assert route_conditions(result, "r")["Accepted"] == ("True", "Accepted")
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/one", 200)
        _, seen = await request(session, port, "/one", {
            "x-header-set": "original", "X-Header-Add": "some-other-value",
            "X-Header-Remove": "gone", "Some-Other-Header": "val"})
        assert seen["headers"]["x-header-set"] == "set-overwrites-values"
        assert seen["headers"]["x-header-add"] == "some-other-value,add-appends-values"
        assert seen["headers"]["some-other-header"] == "val"
        assert "x-header-remove" not in seen["headers"]

        backends: Counter[str] = Counter()
        for _ in range(40):
            _, seen = await request(session, port, "/split")
            assert seen["headers"]["backend"] == seen["backend"]
            backends[seen["backend"]] += 1
        assert set(backends) == {"v1", "v2"}


async def test_backend_ref_filters_that_envoy_cannot_split_are_refused(
        xds: XdsFixture) -> None:
    stack = Stack(objects=[*service("v1", 1), *service("v2", 2), route("r", {"rules": [
        {"backendRefs": [
            {"name": "v1", "port": 8080, "filters": [
                {"type": "URLRewrite", "urlRewrite": {"hostname": "elsewhere.example.com"}}]},
            {"name": "v2", "port": 8080}]}]})])
    result = stack.program(xds)
    assert route_conditions(result, "r")["Accepted"] == ("False", "UnsupportedValue")


async def test_url_rewrite_and_redirect_on_the_only_backend_ref(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1 = await echo_factory("v1")

    def rule(prefix: str, filter_: dict[str, Any]) -> dict[str, Any]:
        return {"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "backendRefs": [{"name": "v1", "port": 8080, "filters": [filter_]}]}

    stack = Stack(objects=[*service("v1", v1.port), route("r", {"rules": [
        rule("/full", {"type": "URLRewrite", "urlRewrite": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/rewritten-full"}}}),
        rule("/prefix", {"type": "URLRewrite", "urlRewrite": {
            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/rewritten-prefix"}}}),
        rule("/redirect", {"type": "RequestRedirect", "requestRedirect": {
            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/redirected"}}}),
    ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/full/original", 200)
        assert (await request(session, port, "/full/original"))[1]["path"] == "/rewritten-full"
        assert ((await request(session, port, "/prefix/original"))[1]["path"]
                == "/rewritten-prefix/original")
        async with session.get(f"http://127.0.0.1:{port}/redirect/original",
                               allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["location"].endswith("/redirected/original")
        assert v1.seen["/redirect/original"] == 0


def _retry_path(path: str, **query: str) -> str:
    return f"{path}?" + "&".join(f"{k}={v}" for k, v in {**query, "uuid": uuid.uuid4().hex}.items())


async def test_retries_by_status_code_and_attempts(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v3 = await echo_factory("v3")
    stack = Stack(objects=[*service("v3", v3.port), route("r", {"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/code-500-attempts-3"}}],
         "retry": {"codes": [500], "attempts": 3}, "backendRefs": [{"name": "v3", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/code-all-attempts-2"}}],
         "retry": {"codes": [500, 502, 503, 504], "attempts": 2, "backoff": "10ms"},
         "backendRefs": [{"name": "v3", "port": 8080}]},
    ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/code-500-attempts-3", 200)
        cases = [("/code-500-attempts-3", "500", 2, 200), ("/code-500-attempts-3", "500", 4, 500),
                 ("/code-500-attempts-3", "503", 2, 503)]
        cases += [("/code-all-attempts-2", code, fails, 200 if fails == 1 else int(code))
                  for code in ("500", "502", "503", "504") for fails in (1, 3)]
        for path, code, fails, want in cases:
            got, _ = await request(session, port, _retry_path(
                path, responseCode=code, succeedAfter=str(fails)))
            assert got == want, (path, code, fails)


async def test_retries_on_connection_reset(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v3 = await echo_factory("v3")
    stack = Stack(objects=[*service("v3", v3.port), route("r", {"rules": [
        {"retry": {"attempts": 3}, "backendRefs": [{"name": "v3", "port": 8080}]}]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/", 200)
        assert (await request(session, port, _retry_path("/reset", succeedAfter="2")))[0] == 200
        failed, _ = await request(session, port, _retry_path("/reset", succeedAfter="4"))
        assert failed in (500, 502, 503)


async def test_retries_within_backend_request_and_request_timeouts(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v3 = await echo_factory("v3")
    stack = Stack(objects=[*service("v3", v3.port), route("r", {"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/backend-request-timeout"}}],
         "retry": {"attempts": 2}, "timeouts": {"backendRequest": "200ms"},
         "backendRefs": [{"name": "v3", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/request-timeout"}}],
         "retry": {"codes": [500], "attempts": 5},
         "timeouts": {"backendRequest": "200ms", "request": "400ms"},
         "backendRefs": [{"name": "v3", "port": 8080}]},
    ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/request-timeout", 200)
        slow = {"delayRetry": "300ms", "responseCode": "500"}
        assert (await request(session, port, _retry_path(
            "/backend-request-timeout", **slow, succeedAfter="2")))[0] == 200
        assert (await request(session, port, _retry_path(
            "/backend-request-timeout", **slow, succeedAfter="3")))[0] == 504
        assert (await request(session, port, _retry_path(
            "/request-timeout", responseCode="500", succeedAfter="1")))[0] == 200
        assert (await request(session, port, _retry_path(
            "/request-timeout", delayRetry="100ms", responseCode="500",
            succeedAfter="4")))[0] == 504


async def location(session: aiohttp.ClientSession, port: int, path: str, host: str,
                   method: str = "GET") -> tuple[int, str]:
    async with session.request(method, f"http://127.0.0.1:{port}{path}", headers={"Host": host},
                               allow_redirects=False) as response:
        return response.status, response.headers.get("location", "")


async def test_redirect_status_codes_scheme_host_and_port(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1 = await echo_factory("v1")

    def redirect(prefix: str, **fields: Any) -> dict[str, Any]:
        return {"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "filters": [{"type": "RequestRedirect", "requestRedirect": fields}]}

    stack = Stack(
        listeners=[{"name": "http", "protocol": "HTTP", "port": 80},
                   {"name": "http-8080", "protocol": "HTTP", "port": 8080}],
        objects=[*service("v1", v1.port), route("r", {"rules": [
            redirect("/see-other", statusCode=303),
            redirect("/temporary", statusCode=307),
            redirect("/permanent", statusCode=308, hostname="example.org"),
            redirect("/port", port=8083),
            redirect("/scheme", scheme="https"),
            redirect("/host", hostname="example.org", statusCode=301),
            redirect("/default-port", port=80),
            {"matches": [{"path": {"type": "PathPrefix", "value": "/echo"}}],
             "backendRefs": [{"name": "v1", "port": 8080}]},
        ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    on_80, on_8080 = stack.port(80), stack.port(8080)
    async with aiohttp.ClientSession() as session:
        await until(session, on_80, "/echo", 200)
        await until(session, on_8080, "/echo", 200)
        assert await location(session, on_80, "/see-other", "foo.com", "POST") == (
            303, "http://foo.com/see-other")
        assert await location(session, on_80, "/temporary", "foo.com") == (
            307, "http://foo.com/temporary")
        assert await location(session, on_80, "/permanent", "foo.com:80") == (
            308, "http://example.org/permanent")
        assert await location(session, on_80, "/port", "foo.com") == (
            302, "http://foo.com:8083/port")
        assert await location(session, on_80, "/scheme", "foo.com:80") == (
            302, "https://foo.com/scheme")
        assert await location(session, on_80, "/host", "foo.com") == (
            301, "http://example.org/host")
        assert await location(session, on_80, "/default-port", "foo.com") == (
            302, "http://foo.com/default-port")

        # A listener on 8080: no port in the filter means the listener port, unless the scheme
        # changes (then the scheme's port); the Host port reaches the backend unchanged.
        assert await location(session, on_8080, "/host", "foo.com:8080") == (
            301, "http://example.org:8080/host")
        assert await location(session, on_8080, "/see-other", "foo.com:8080") == (
            303, "http://foo.com:8080/see-other")
        assert (await location(session, on_8080, "/scheme", "foo.com:8080"))[1] in (
            "https://foo.com/scheme", "https://foo.com:443/scheme")
        assert (await location(session, on_8080, "/default-port", "foo.com:8080"))[1] in (
            "http://foo.com/default-port", "http://foo.com:80/default-port")
        async with session.get(f"http://127.0.0.1:{on_8080}/echo",
                               headers={"Host": "foo.com:8080"}) as response:
            assert (await response.json())["host"] == "foo.com:8080"


async def test_parent_ref_port_selects_listeners_and_host_port_reaches_the_backend(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1, v2, v3 = [await echo_factory(n) for n in ("v1", "v2", "v3")]
    listeners = [{"name": f"l{i}", "protocol": "HTTP", "port": port, "hostname": host}
                 for i, (port, host) in enumerate([(80, "foo.com"), (8080, "foo.com"),
                                                   (8080, "bar.com"), (8090, "foo.com"),
                                                   (8090, "bar.com")], start=1)]

    def on_port(name: str, port: int, **extra: Any) -> dict[str, Any]:
        return route(name, {"parentRefs": [{"name": "gw", "port": port, **extra}],
                            "rules": [{"backendRefs": [{"name": name, "port": 8080}]}]})

    stack = Stack(listeners=listeners, objects=[
        *service("v1", v1.port), *service("v2", v2.port), *service("v3", v3.port),
        on_port("v1", 80), on_port("v2", 8080), on_port("v3", 8090, sectionName="l4")])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    async with aiohttp.ClientSession() as session:
        await until(session, stack.port(8090), "/", 404)  # bar.com:8090 has no route

        async def seen(port: int, host: str) -> tuple[int, dict[str, Any]]:
            return await request(session, stack.port(port), "/", {"Host": host})

        await wait_for(lambda: _ok(seen(80, "foo.com")), what="foo.com on 80")
        for port, host, backend in [(80, "foo.com", "v1"), (8080, "foo.com:8080", "v2"),
                                    (8080, "bar.com:8080", "v2"), (8090, "foo.com:8090", "v3")]:
            status, echo = await seen(port, host)
            assert (status, echo["backend"], echo["host"]) == (200, backend, host)
        assert (await seen(8090, "bar.com:8090"))[0] == 404


async def _ok(response: Awaitable[tuple[int, dict[str, Any]]]) -> bool:
    return (await response)[0] == 200


async def test_multiple_and_percentage_mirrors(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1, v2, v3 = [await echo_factory(n) for n in ("v1", "v2", "v3")]

    def mirror(name: str, **share: Any) -> dict[str, Any]:
        return {"type": "RequestMirror",
                "requestMirror": {"backendRef": {"name": name, "port": 8080}, **share}}

    stack = Stack(objects=[*service("v1", v1.port), *service("v2", v2.port),
                           *service("v3", v3.port), route("r", {"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/both"}}],
         "filters": [mirror("v2"), mirror("v3")], "backendRefs": [{"name": "v1", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/percent"}}],
         "filters": [mirror("v2", percent=20)], "backendRefs": [{"name": "v1", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/fraction"}}],
         "filters": [mirror("v3", fraction={"numerator": 1, "denominator": 2})],
         "backendRefs": [{"name": "v1", "port": 8080}]},
    ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()

    async def mirrored(echo: Echo, path: str, at_least: int) -> None:
        async def enough() -> bool:
            return echo.seen[path] >= at_least

        await wait_for(enough, what=f"{at_least} mirrored {path}")

    async with aiohttp.ClientSession() as session:
        await until(session, port, "/both", 200)
        assert (await request(session, port, "/both?once"))[1]["backend"] == "v1"
        await mirrored(v2, "/both?once", 1)
        await mirrored(v3, "/both?once", 1)

        # 500 requests each: counts within four standard deviations (the suite checks three).
        for _ in range(500):
            assert (await request(session, port, "/percent?n"))[0] == 200
            assert (await request(session, port, "/fraction?n"))[0] == 200
        await mirrored(v2, "/percent?n", 100 - 36)
        await mirrored(v3, "/fraction?n", 250 - 45)
        assert v2.seen["/percent?n"] <= 100 + 36 and v3.seen["/fraction?n"] <= 250 + 45
        assert v2.seen["/fraction?n"] == 0 and v3.seen["/percent?n"] == 0


async def test_backend_protocols_h2c_and_websocket(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    ws = await echo_factory("ws")
    async with h2c_backend() as h2c:
        stack = Stack(objects=[
            *service("h2c", h2c, port=8081, app_protocol="kubernetes.io/h2c"),
            *service("ws", ws.port, port=8082, app_protocol="kubernetes.io/ws"),
            route("r", {"rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/ws"}}],
                 "backendRefs": [{"name": "ws", "port": 8082}]},
                {"backendRefs": [{"name": "h2c", "port": 8081}]}]})])
        stack.program(xds)
        await envoy_factory(NODE, xds.port)
        port = stack.port()
        async with aiohttp.ClientSession() as session:
            await until(session, port, "/h2", 200)
            assert (await request(session, port, "/h2"))[1]["body"] == "h2c /h2"
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as socket:
                await socket.send_str("Websocket Support!")
                assert await socket.receive_str() == "Websocket Support!"
                await socket.send_bytes(bytes(range(1, 8)))
                assert await socket.receive_bytes() == bytes(range(1, 8))


async def test_cors_preflights_answered_by_the_gateway(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    v1 = await echo_factory("v1")

    def cors_rule(prefix: str, **policy: Any) -> dict[str, Any]:
        return {"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "filters": [{"type": "CORS", "cors": policy}],
                "backendRefs": [{"name": "v1", "port": 8080}]}

    stack = Stack(objects=[*service("v1", v1.port), route("r", {"rules": [
        cors_rule("/cors-1", allowOrigins=["https://www.foo.com", "https://*.bar.com"],
                  allowMethods=["GET", "OPTIONS"], allowHeaders=["x-header-1", "x-header-2"],
                  exposeHeaders=["x-header-3", "x-header-4"], allowCredentials=True, maxAge=3600),
        cors_rule("/cors-2", allowOrigins=["https://www.foo.com"], allowMethods=["*"]),
        cors_rule("/any-origin", allowOrigins=["*"], allowMethods=["PUT"]),
        cors_rule("/wildcards-credentials", allowOrigins=["*"], allowMethods=["*"],
                  allowHeaders=["*"], allowCredentials=True),
    ]})])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port()

    async def call(method: str, path: str, origin: str,
                   **headers: str) -> tuple[int, dict[str, str], bool]:
        sent = {"Origin": origin, **{k.replace("_", "-"): v for k, v in headers.items()}}
        async with aiohttp.ClientSession() as s, s.request(
                method, f"http://127.0.0.1:{port}{path}", headers=sent) as response:
            cors_headers = {k.lower(): v for k, v in response.headers.items()
                            if k.lower().startswith("access-control-")}
            return (response.status, cors_headers,
                    response.content_type == "application/json")  # from the echo backend

    preflight = {"access_control_request_method": "GET",
                 "access_control_request_headers": "x-header-1, x-header-2"}
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/cors-1", 200)
    for origin in ("https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com"):
        status, got, from_backend = await call("OPTIONS", "/cors-1", origin, **preflight)
        assert status in (200, 204) and not from_backend
        assert got["access-control-allow-origin"] == origin
        assert got["access-control-allow-methods"] == "GET, OPTIONS"
        assert got["access-control-allow-headers"] == "x-header-1, x-header-2"
        assert got["access-control-expose-headers"] == "x-header-3, x-header-4"
        assert got["access-control-max-age"] == "3600"
        assert got["access-control-allow-credentials"] == "true"
    status, got, from_backend = await call("OPTIONS", "/cors-1", "https://foobar.com", **preflight)
    assert status in (200, 204, 403) and not from_backend
    assert "access-control-allow-origin" not in got

    status, got, from_backend = await call("GET", "/cors-1", "https://www.bar.com")
    assert (status, from_backend) == (200, True)
    assert got["access-control-allow-origin"] == "https://www.bar.com"
    status, got, from_backend = await call("GET", "/cors-1", "https://foobar.com")
    assert (status, from_backend, got) == (200, True, {})

    status, got, from_backend = await call("OPTIONS", "/cors-2", "https://www.foo.com",
                                           access_control_request_method="POST")
    assert status in (200, 204) and not from_backend
    assert got["access-control-allow-methods"] in ("POST", "*")
    assert "access-control-allow-credentials" not in got

    for origin in ("https://foobar.com", "https://foobar.com:12345"):
        status, got, from_backend = await call("OPTIONS", "/any-origin", origin,
                                               access_control_request_method="PUT")
        assert status in (200, 204) and not from_backend
        assert got["access-control-allow-origin"] in (origin, "*")
        assert got["access-control-allow-methods"] == "PUT"
        assert "access-control-allow-credentials" not in got

    status, got, from_backend = await call("OPTIONS", "/wildcards-credentials",
                                           "https://other.foo.com",
                                           access_control_request_method="PUT",
                                           access_control_request_headers="x-header-1, x-header-2")
    assert status in (200, 204) and not from_backend
    assert got["access-control-allow-origin"] == "https://other.foo.com"
    assert got["access-control-allow-methods"] == "PUT"
    assert got["access-control-allow-headers"].replace(" ", "") == "x-header-1,x-header-2"
    assert got["access-control-allow-credentials"] == "true"


async def test_header_values_and_full_paths_reach_the_backend_as_written(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo_factory: EchoFactory) -> None:
    """Envoy reads `%` in an added header value as a substitution (and refused "100%") and a
    backslash in a regex substitution as a group reference: both are sent escaped."""
    v1 = await echo_factory("v1")
    literal = "100% of %START_TIME% and %REQ(host)%"
    stack = Stack(objects=[*service("v1", v1.port), route("r", {"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/headers"}}],
         "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
             "set": [{"name": "X-Literal", "value": literal}]}}],
         "backendRefs": [{"name": "v1", "port": 8080}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/full"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {
             "path": {"type": "ReplaceFullPath", "replaceFullPath": "/a\\1b"}}}],
         "backendRefs": [{"name": "v1", "port": 8080}]},
    ]})])
    result = stack.program(xds)
    assert route_conditions(result, "r")["Accepted"] == ("True", "Accepted")
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/headers", 200)
        assert (await request(session, port, "/headers"))[1]["headers"]["x-literal"] == literal
        assert (await request(session, port, "/full/x"))[1]["path"] == "/a\\1b"
