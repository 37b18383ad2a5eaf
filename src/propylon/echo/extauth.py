"""Ext-auth mode of the echo backend: Envoy Gateway's test authorisation service
(`envoyproxy/gateway-envoy-ext-auth`), chosen with `EXT_AUTH_SERVER` set.

Users: tokens `token1`, `token2`, `token3` are `user1`, `user2`, `user3`.
- HTTP on `HTTP_PORT` (8080), any path: `Authorization: Bearer <token>` with a known token is
  200 with response headers `x-current-user: <user>` and `x-ext-auth-req-path: <the auth
  request's path>`; anything else is 403. `/healthz` is 200.
- gRPC `envoy.service.auth.v3.Authorization/Check` on `GRPC_PORT` (9002), over TLS when
  `EXT_AUTH_CERT_DIR` holds `server.crt` and `server.key`: the same users; OK adds the header
  `x-current-user`, and when the request carries route metadata
  (`filter_metadata["envoy-gateway"]["resources"][0]`: kind, namespace, name, annotations)
  `x-eg-route-name: <name>` and `x-eg-route-annotation-<lowercased key>: <value>` per
  annotation; anything else is PERMISSION_DENIED.
`DELAY_DURATION` (a Go duration) makes every check sleep that long first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from google.protobuf.json_format import MessageToDict
from google.rpc import code_pb2, status_pb2
from grpc import aio

from propylon.echo.httpserver import parse_go_duration

USERS = {"token1": "user1", "token2": "user2", "token3": "user3"}


@dataclass(frozen=True)
class ExtAuthConfig:
    bind: str
    http_port: int = 8080
    grpc_port: int = 9002
    cert_dir: str = ""
    delay_s: float = 0.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str], bind: str) -> ExtAuthConfig:
        """Raises ValueError naming the variable that is wrong."""
        try:
            return cls(bind, int(environ.get("HTTP_PORT", "8080")),
                       int(environ.get("GRPC_PORT", "9002")),
                       environ.get("EXT_AUTH_CERT_DIR", ""),
                       parse_go_duration(environ.get("DELAY_DURATION") or "0s"))
        except ValueError as error:
            raise ValueError(f"HTTP_PORT, GRPC_PORT or DELAY_DURATION: {error}") from None


def user_of(authorization: str) -> str | None:
    """The user a `Bearer <token>` header value names, or None."""
    parts = authorization.split(" ")
    if len(parts) != 2 or parts[0] != "Bearer":
        return None
    return USERS.get(parts[1])


class _Authorization(pb_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s

    async def Check(self, request: pb.CheckRequest, context: Any) -> pb.CheckResponse:  # noqa: N802
        await asyncio.sleep(self._delay_s)
        http = request.attributes.request.http
        user = user_of(http.headers.get("authorization", ""))
        if user is None:
            return pb.CheckResponse(status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED))
        headers = [("x-current-user", user), *_route_headers(request)]
        return pb.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=pb.OkHttpResponse(headers=[
                HeaderValueOption(header=HeaderValue(key=k, value=v)) for k, v in headers]))


def _route_headers(request: pb.CheckRequest) -> list[tuple[str, str]]:
    """x-eg-route-name and x-eg-route-annotation-* from the route metadata, when it names a
    resource (kind, namespace and name all set); annotations with a string value, by key."""
    found = request.attributes.route_metadata_context.filter_metadata
    if "envoy-gateway" not in found:
        return []
    resources = MessageToDict(found["envoy-gateway"]).get("resources") or []
    first = resources[0] if isinstance(resources, list) and resources else None
    if not isinstance(first, dict) or not all(
            isinstance(first.get(k), str) and first[k] for k in ("kind", "namespace", "name")):
        return []
    annotations = first.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    return [("x-eg-route-name", first["name"]), *(
        (f"x-eg-route-annotation-{key.lower()}", value) for key, value in sorted(
            annotations.items()) if isinstance(value, str) and value)]


async def serve_ext_auth(config: ExtAuthConfig) -> tuple[web.AppRunner, aio.Server]:
    """Start both servers; the caller stops them."""
    async def check(request: web.Request) -> web.Response:
        if request.path == "/healthz":
            return web.Response(status=200)
        await asyncio.sleep(config.delay_s)
        user = user_of(request.headers.get("Authorization", ""))
        if user is None:
            return web.Response(status=403)
        return web.Response(status=200, headers={"x-current-user": user,
                                                 "x-ext-auth-req-path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", check)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.bind, config.http_port).start()
    server = aio.server()
    pb_grpc.add_AuthorizationServicer_to_server(_Authorization(config.delay_s), server)
    address = f"{config.bind}:{config.grpc_port}"
    cert_dir = Path(config.cert_dir) if config.cert_dir else None
    if cert_dir is not None and (cert_dir / "server.crt").is_file():
        credentials = grpc.ssl_server_credentials([((cert_dir / "server.key").read_bytes(),
                                                    (cert_dir / "server.crt").read_bytes())])
        server.add_secure_port(address, credentials)
    else:
        server.add_insecure_port(address)
    await server.start()
    return runner, server
