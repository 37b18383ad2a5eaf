"""The gRPC echo backend (`GRPC_ECHO_SERVER`) and the runner's gRPC client and checks."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from propylon.conformance.grpcclient import GRPCResponse, call, compare
from propylon.echo.grpcserver import GRPCEchoConfig, serve_grpc
from propylon.echo.grpcservice import method_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    port = _free_port()
    config = GRPCEchoConfig.from_env({"HTTP_PORT": str(port)}, "127.0.0.1")
    servers = await serve_grpc(config, {"namespace": "ns", "pod": "grpc-v1-abc-1",
                                        "service": "grpc-v1", "ingress": ""})
    yield port
    for server in servers:
        await server.stop(None)


async def test_echo_asserts_method_context_and_metadata(echo_port: int) -> None:
    response = await call("127.0.0.1", echo_port, method_path("EchoTwo"), "example.com",
                          {"X-Version": "two"})
    assert response.code == "OK"
    assert response.method == method_path("EchoTwo")
    assert (response.namespace, response.pod) == ("ns", "grpc-v1-abc-1")
    assert ("x-version", "two") in response.headers


async def test_echo_three_is_unimplemented(echo_port: int) -> None:
    assert (await call("127.0.0.1", echo_port, method_path("EchoThree"))).code == "UNIMPLEMENTED"


def test_tls_port_needs_both_files() -> None:
    config = GRPCEchoConfig.from_env({"TLS_SERVER_CERT": "/c"}, "127.0.0.1")
    assert config.credentials() is None
    with pytest.raises(ValueError, match="HTTPS_PORT"):
        GRPCEchoConfig.from_env({"HTTPS_PORT": "0"}, "127.0.0.1")


@pytest.mark.parametrize(("expect", "response", "reason"), [
    ({"grpcStatus": "OK", "backend": "grpc-v1", "namespace": "ns"},
     GRPCResponse("OK", method="/s/Echo", namespace="ns", pod="grpc-v1-x-1"), None),
    ({"grpcStatus": "OK", "backend": "grpc-v2", "namespace": "ns"},
     GRPCResponse("OK", method="/s/Echo", namespace="ns", pod="grpc-v1-x-1"), "backend"),
    ({"grpcStatus": "OK", "namespace": "ns"},
     GRPCResponse("OK", method="/s/EchoTwo", namespace="ns"), "method"),
    ({"grpcStatus": "Unimplemented"}, GRPCResponse("UNIMPLEMENTED"), None),
    ({"grpcStatus": "Unimplemented"}, GRPCResponse("UNAVAILABLE"), "status"),
    ({"grpcStatus": "notOK"}, GRPCResponse("UNAVAILABLE"), None),
    ({"grpcStatus": "notOK"}, GRPCResponse("OK", method="/s/Echo"), "failed call"),
])
def test_compare(expect: dict[str, str], response: GRPCResponse, reason: str | None) -> None:
    got = compare(expect, response, "/s/Echo")
    assert got is None if reason is None else reason in (got or "")
