"""GRPCRoute from Gateway API objects through both translators to a real Envoy and gRPC echo
backends (`propylon.echo.grpcserver`): method and header matches pick the backend, a Service port
without appProtocol is still reached over HTTP/2, and a call no rule matches gets UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from gateway_api_support import NODE, Stack, service
from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.conformance.grpcclient import GRPCResponse, call
from propylon.echo.grpcserver import GRPCEchoConfig, serve_grpc
from propylon.echo.grpcservice import method_path
from propylon.translate.types import Result

GrpcFactory = Callable[[str], Awaitable[int]]


@pytest.fixture
async def grpc_backend() -> AsyncIterator[GrpcFactory]:
    """Start gRPC echo backends whose pod name is the given name; yields their ports."""
    async with AsyncExitStack() as stack:
        async def start(pod: str) -> int:
            port = free_port()
            for server in await serve_grpc(GRPCEchoConfig("127.0.0.1", port, free_port()),
                                           {"namespace": "default", "pod": pod}):
                stack.push_async_callback(server.stop, None)
            return port

        yield start


def grpc_route(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": rules}}


def accepted(result: Result, name: str) -> str:
    update = next(s for s in result.statuses if s.kind == "GRPCRoute" and s.name == name)
    return next(c["status"] for c in update.status.to_json()["parents"][0]["conditions"]
                if c["type"] == "Accepted")


async def answer(port: int, method: str, metadata: dict[str, str] | None = None) -> GRPCResponse:
    return await call("127.0.0.1", port, method_path(method), "grpc.example.com", metadata)


async def test_method_and_header_matches_reach_h2c_backends(
        xds: XdsFixture, envoy_factory: EnvoyFactory, grpc_backend: GrpcFactory) -> None:
    one, two = await grpc_backend("one-pod"), await grpc_backend("two-pod")
    echo = {"service": "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"}
    stack = Stack(objects=[*service("one", one), *service("two", two), grpc_route("r", [
        {"matches": [{"method": {**echo, "method": "Echo"}}],
         "backendRefs": [{"name": "one", "port": 8080}]},
        {"matches": [{"method": {**echo, "method": "Echo"},
                      "headers": [{"name": "version", "value": "two"}]},
                     {"method": {"method": "EchoTwo"}}],
         "backendRefs": [{"name": "two", "port": 8080}]},
    ])])
    result = stack.program(xds)
    assert accepted(result, "r") == "True"
    await envoy_factory(NODE, xds.port)
    port = stack.port()

    async def served() -> bool:
        return (await answer(port, "Echo")).code == "OK"

    await wait_for(served, what="Echo through Envoy")
    plain = await answer(port, "Echo")
    assert (plain.pod, plain.method) == ("one-pod", method_path("Echo"))
    assert (await answer(port, "Echo", {"version": "two"})).pod == "two-pod"
    assert (await answer(port, "EchoTwo")).pod == "two-pod"
    assert (await answer(port, "EchoThree")).code == "UNIMPLEMENTED"
