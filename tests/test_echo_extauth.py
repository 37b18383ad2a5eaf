"""The echo backend's ext-auth mode (`EXT_AUTH_SERVER`): Envoy Gateway's test authorisation
service over HTTP and gRPC."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from google.protobuf.struct_pb2 import Struct
from google.rpc import code_pb2
from grpc import aio

from propylon.echo.extauth import ExtAuthConfig, serve_ext_auth


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def ports() -> AsyncIterator[tuple[int, int]]:
    http, grpc = _free_port(), _free_port()
    config = ExtAuthConfig.from_env({"HTTP_PORT": str(http), "GRPC_PORT": str(grpc)},
                                    "127.0.0.1")
    runner, server = await serve_ext_auth(config)
    yield http, grpc
    await server.stop(None)
    await runner.cleanup()


@pytest.mark.parametrize(("authorization", "status", "user"), [
    ("Bearer token2", 200, "user2"),
    ("Bearer invalid-token", 403, None),
    ("Basic token1", 403, None),
    (None, 403, None),
])
async def test_http_check_answers_by_token(ports: tuple[int, int], authorization: str | None,
                                           status: int, user: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{ports[0]}/auth/myapp", headers=headers) as response:
        assert response.status == status
        assert response.headers.get("x-current-user") == user
        if user is not None:
            assert response.headers["x-ext-auth-req-path"] == "/auth/myapp"


def _check(authorization: str | None, route: dict[str, object] | None = None) -> pb.CheckRequest:
    request = pb.CheckRequest()
    if authorization:
        request.attributes.request.http.headers["authorization"] = authorization
    if route is not None:
        metadata = Struct()
        metadata.update({"resources": [route]})
        request.attributes.route_metadata_context.filter_metadata["envoy-gateway"].CopyFrom(
            metadata)
    return request


async def test_grpc_check_adds_user_and_route_headers(ports: tuple[int, int]) -> None:
    async with aio.insecure_channel(f"127.0.0.1:{ports[1]}") as channel:
        stub = pb_grpc.AuthorizationStub(channel)
        ok = await stub.Check(_check("Bearer token1", {
            "kind": "HTTPRoute", "namespace": "ns", "name": "web",
            "annotations": {"gateway.envoyproxy.io/Foo": "bar"}}))
        unnamed = await stub.Check(_check("Bearer token3", {"kind": "HTTPRoute", "name": "web"}))
        denied = await stub.Check(_check("Bearer nobody"))
    assert ok.status.code == code_pb2.OK
    assert {(h.header.key, h.header.value) for h in ok.ok_response.headers} == {
        ("x-current-user", "user1"), ("x-eg-route-name", "web"),
        ("x-eg-route-annotation-gateway.envoyproxy.io/foo", "bar")}
    assert [(h.header.key, h.header.value) for h in unnamed.ok_response.headers] == [
        ("x-current-user", "user3")]  # metadata without a namespace names no route
    assert denied.status.code == code_pb2.PERMISSION_DENIED


def test_bad_delay_names_the_variable() -> None:
    with pytest.raises(ValueError, match="DELAY_DURATION"):
        ExtAuthConfig.from_env({"DELAY_DURATION": "soon"}, "127.0.0.1")
