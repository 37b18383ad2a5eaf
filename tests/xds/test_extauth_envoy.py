"""SecurityPolicy extAuth through both translators to a real Envoy, asking the echo package's
ext-auth service (Envoy Gateway's test service) over HTTP and gRPC: requests without a known
token are refused, the others reach the backend with the headers the service chose; a route
without a policy is not asked about; when the service is down, failOpen lets requests through
and statusOnError is the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from gateway_api_support import NODE, Echo, Stack, echo_backend, route, route_conditions, service
from test_httproute_extended_envoy import request, until
from xds_support import EnvoyFactory, XdsFixture, free_port

from propylon.echo.extauth import ExtAuthConfig, serve_ext_auth


@pytest.fixture
async def auth_ports() -> AsyncIterator[tuple[int, int]]:
    http, grpc = free_port(), free_port()
    runner, server = await serve_ext_auth(ExtAuthConfig("127.0.0.1", http, grpc))
    yield http, grpc
    await server.stop(None)
    await runner.cleanup()


@pytest.fixture
async def app() -> AsyncIterator[Echo]:
    async with echo_backend("app") as echo:
        yield echo


def _policy(name: str, target: str, ext_auth: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                     "name": target}], "extAuth": ext_auth}}


def _prefix_route(name: str, prefix: str) -> dict[str, Any]:
    return route(name, {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                                   "backendRefs": [{"name": "app", "port": 8080}]}]})


async def test_http_and_grpc_services_decide_per_route(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo,
        auth_ports: tuple[int, int]) -> None:
    http_port, grpc_port = auth_ports
    stack = Stack(objects=[
        *service("app", app.port), *service("auth", http_port), *service("grpc-auth", grpc_port),
        *service("down", free_port()),
        _prefix_route("web", "/web"), _prefix_route("rpc", "/rpc"),
        _prefix_route("public", "/public"), _prefix_route("lenient", "/lenient"),
        _prefix_route("strict", "/strict"),
        _policy("web-auth", "web", {"http": {
            "backendRef": {"name": "auth", "port": 8080}, "path": "/auth",
            "headersToBackend": ["x-current-user", "x-ext-auth-req-path"]}}),
        _policy("rpc-auth", "rpc", {"grpc": {"backendRefs": [{"name": "grpc-auth",
                                                              "port": 8080}]},
                                    "contextExtensions": [{"name": "tier", "value": "gold"}]}),
        _policy("lenient-auth", "lenient", {"failOpen": True, "http": {
            "backendRef": {"name": "down", "port": 8080}}}),
        _policy("strict-auth", "strict", {"statusOnError": 503, "http": {
            "backendRef": {"name": "down", "port": 8080}}}),
    ])
    result = stack.program(xds)
    assert route_conditions(result, "web")["Accepted"] == ("True", "Accepted")
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    token1 = {"Authorization": "Bearer token1"}
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/public", 200)
        await until(session, port, "/web", 403)
        assert (await request(session, port, "/web", {"Authorization": "Bearer bad"}))[0] == 403
        status, seen = await request(session, port, "/web/x", token1)
        assert status == 200
        assert seen["headers"]["x-current-user"] == "user1"
        assert seen["headers"]["x-ext-auth-req-path"] == "/auth/web/x"

        assert (await request(session, port, "/rpc"))[0] == 403
        status, seen = await request(session, port, "/rpc", {"Authorization": "Bearer token2"})
        assert (status, seen["headers"]["x-current-user"]) == (200, "user2")

        status, seen = await request(session, port, "/public")
        assert status == 200 and "x-current-user" not in seen["headers"]
        assert (await request(session, port, "/lenient"))[0] == 200
        assert (await request(session, port, "/strict", token1))[0] == 503
