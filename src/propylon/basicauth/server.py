"""`BasicAuthServer`: Envoy's ext_authz gRPC service (`envoy.service.auth.v3.Authorization`)
checking basic credentials against the htpasswd lines each route sends in its context
extensions (`propylon.htpasswd.service`).

An accepted request goes on with the user name in the route's forwarded-username header (when
set, replacing one the client sent); a refused one is answered 401 with Envoy's basic_auth body
and challenge (`verifier`). Serves plaintext on a Unix socket of mode 0600 (standalone: the
stack's private socket directory) or on a loopback port (a Kubernetes proxy pod).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import grpc
from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from envoy.type.v3.http_status_pb2 import HttpStatus
from google.rpc import code_pb2, status_pb2

from propylon.basicauth.verifier import Answer, Verifier
from propylon.htpasswd import service

_OVERWRITE = HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD


def response(answer: Answer, forward_header: str) -> pb.CheckResponse:
    """The CheckResponse telling Envoy `answer`."""
    if answer.user is not None:
        ok = pb.OkHttpResponse()
        if forward_header:
            ok.headers.append(HeaderValueOption(
                header=HeaderValue(key=forward_header, value=answer.user),
                append_action=_OVERWRITE))
        return pb.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)
    denied = pb.DeniedHttpResponse(status=HttpStatus(code=401), body=answer.body, headers=[
        HeaderValueOption(header=HeaderValue(key=name, value=value), append_action=_OVERWRITE)
        for name, value in (("www-authenticate", answer.challenge),
                            ("content-type", "text/plain"))])
    return pb.CheckResponse(status=status_pb2.Status(code=code_pb2.UNAUTHENTICATED),
                            denied_response=denied)


class _Servicer(pb_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier

    async def Check(self, request: pb.CheckRequest,  # noqa: N802 (gRPC's method name)
                    context: grpc.aio.ServicerContext) -> pb.CheckResponse:
        extensions = request.attributes.context_extensions
        http = request.attributes.request.http
        answer = await self._verifier.check(extensions.get(service.USERS, ""),
                                            http.headers.get("authorization", ""),
                                            http.host, http.path)
        return response(answer, extensions.get(service.FORWARD_USERNAME_HEADER, ""))


class BasicAuthServer:
    """Serve the check (see the module docstring)."""

    def __init__(self, verifier: Verifier | None = None) -> None:
        self.verifier = verifier or Verifier()
        self._server: grpc.aio.Server | None = None

    async def _serve(self, address: str) -> int:
        server = grpc.aio.server(options=[("grpc.keepalive_permit_without_calls", 1)])
        pb_grpc.add_AuthorizationServicer_to_server(_Servicer(self.verifier), server)
        port: int = server.add_insecure_port(address)
        await server.start()
        self._server = server
        return port

    async def start_unix(self, path: Path) -> None:
        """Serve on the Unix socket `path` (mode 0600), replacing a stale socket file."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        await self._serve(f"unix:{path}")
        os.chmod(path, 0o600)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on `host:port` (0: any free port); returns the bound port."""
        return await self._serve(f"{host}:{port}")

    async def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        self.verifier.close()
