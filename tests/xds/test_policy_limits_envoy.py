"""Policy limits against a real Envoy, through the translator: a BackendTrafficPolicy's local
rate limit refuses requests over a rule's limit with 429 and says so in x-ratelimit-* headers,
each client of a Distinct selector with its own bucket and other routes untouched; a
ClientTrafficPolicy's connection limit closes the connections over it and counts them; a
circuit breaker closed at 0 connections answers 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
from gateway_api_support import NODE, Echo, Stack, echo_backend, route, service
from xds_support import EnvoyFactory, XdsFixture, wait_for

from propylon.infra.host.envoy_admin import admin_get

EG = "gateway.envoyproxy.io/v1alpha1"


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with AsyncExitStack() as stack:
        yield await stack.enter_async_context(echo_backend("v1"))


def _routes() -> list[dict[str, Any]]:
    return [route(name, {"parentRefs": [{"name": "gw"}], "rules": [{
        "matches": [{"path": {"type": "PathPrefix", "value": f"/{name}"}}],
        "backendRefs": [{"name": "v1", "port": 8080}]}]})
        for name in ("limited", "free", "broken")]


def _policy(kind: str, name: str, target: dict[str, str], spec: dict[str, Any],
            ) -> dict[str, Any]:
    return {"apiVersion": EG, "kind": kind,
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", **target}], **spec}}


POLICIES = [
    _policy("BackendTrafficPolicy", "limited", {"kind": "HTTPRoute", "name": "limited"},
            {"rateLimit": {"type": "Local", "local": {"rules": [
                {"limit": {"requests": 2, "unit": "Hour"}},
                {"clientSelectors": [{"headers": [{"name": "x-user", "type": "Distinct"}]}],
                 "limit": {"requests": 1, "unit": "Hour"}}]}}}),
    _policy("BackendTrafficPolicy", "broken", {"kind": "HTTPRoute", "name": "broken"},
            {"circuitBreaker": {"maxConnections": 0, "maxPendingRequests": 0,
                                "maxParallelRequests": 0}}),
    _policy("ClientTrafficPolicy", "connections", {"kind": "Gateway", "name": "gw"},
            {"connection": {"connectionLimit": {"value": 2}}}),
]


async def test_rate_limits_connection_limits_and_circuit_breakers(
        xds: XdsFixture, envoy_factory: EnvoyFactory, echo: Echo) -> None:
    stack = Stack(objects=[*service("v1", echo.port), *_routes(), *POLICIES])
    result = stack.program(xds)
    assert all(s.status.to_json()["ancestors"][0]["conditions"][0]["status"] == "True"
               for s in result.statuses if s.api_version == EG)
    envoy = await envoy_factory(NODE, xds.port)
    base = f"http://127.0.0.1:{stack.port()}"

    async def get(path: str, **headers: str) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession() as session, \
                session.get(base + path, headers=headers) as response:
            await response.read()
            return response

    async def free_is_served() -> bool:
        return (await get("/free")).status == 200

    await wait_for(free_is_served)
    # the default bucket: two requests, then 429
    answers = [await get("/limited") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "2"
    assert answers[1].headers["x-ratelimit-remaining"] == "0"
    # a bucket per x-user value, apart from the default one
    assert [(await get("/limited", **{"x-user": u})).status for u in ("a", "a", "b")] \
        == [200, 429, 200]
    assert [(await get("/free")).status for _ in range(3)] == [200, 200, 200]
    assert "x-ratelimit-limit" not in (await get("/free")).headers
    assert (await get("/broken")).status == 503

    # the connection limit: of five idle connections, three are closed by Envoy
    opened = [await asyncio.open_connection("127.0.0.1", stack.port()) for _ in range(5)]

    async def closed() -> int:
        return sum(reader.at_eof() for reader, _ in opened)

    async def three_closed() -> bool:
        await asyncio.gather(*(_drain(reader) for reader, _ in opened))
        return await closed() == 3

    await wait_for(three_closed)
    status, body = await admin_get(envoy.admin, "/stats?filter=limited_connections")
    assert status == 200 and body.strip().endswith(": 3"), body
    for _, writer in opened:
        writer.close()


async def _drain(reader: asyncio.StreamReader) -> None:
    """Read what is there (nothing: Envoy sends no bytes), so a close is seen as EOF."""
    try:
        await asyncio.wait_for(reader.read(1), 0.05)
    except TimeoutError:
        pass
