"""Gateway extended features against a real Envoy: HTTP listener isolation (a request is served
only by the routes of the most specific listener matching its Host) on a listener port other
than 80."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest
from gateway_api_support import NODE, Echo, Stack, echo_backend, route, service
from xds_support import EnvoyFactory, XdsFixture, wait_for

LISTENERS = {"empty-hostname": None, "wildcard-example-com": "*.example.com",
             "wildcard-foo-example-com": "*.foo.example.com",
             "abc-foo-example-com": "abc.foo.example.com"}


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with AsyncExitStack() as stack:
        yield await stack.enter_async_context(echo_backend("v1"))


async def test_http_listener_isolation_on_port_8080(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo: Echo) -> None:
    listeners = [{"name": name, "protocol": "HTTP", "port": 8080,
                  "allowedRoutes": {"namespaces": {"from": "All"}},
                  **({"hostname": host} if host else {})} for name, host in LISTENERS.items()]
    routes = [route(f"to-{name}", {
        "parentRefs": [{"name": "gw", "sectionName": name}],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": f"/{name}"}}],
                   "backendRefs": [{"name": "v1", "port": 8080}]}]}) for name in LISTENERS]
    stack = Stack(listeners=listeners, objects=[*service("v1", echo.port), *routes])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    port = stack.port(8080)

    async def status(session: aiohttp.ClientSession, host: str, path: str) -> int:
        async with session.get(f"http://127.0.0.1:{port}{path}",
                               headers={"Host": host}) as response:
            return response.status

    expected_owner = {"bar.com": "empty-hostname", "bar.example.com": "wildcard-example-com",
                      "bar.foo.example.com": "wildcard-foo-example-com",
                      "abc.foo.example.com": "abc-foo-example-com"}
    async with aiohttp.ClientSession() as session:
        async def served() -> bool:
            try:
                return await status(session, "bar.com", "/empty-hostname") == 200
            except aiohttp.ClientError:
                return False

        await wait_for(served, what="first route served")
        for host, owner in expected_owner.items():
            for listener in LISTENERS:
                want = 200 if listener == owner else 404
                assert await status(session, f"{host}:8080", f"/{listener}") == want, (
                    host, listener)
