"""gRPC mode of the echo backend, like echo-basic with `GRPC_ECHO_SERVER` set.

Service `gateway_api_conformance.echo_basic.grpcecho.GrpcEcho` (messages in
`propylon.echo.grpcservice`): `Echo` and `EchoTwo` answer an `EchoResponse` whose `assertions`
say what the server saw: the fully-qualified method (`/<service>/<method>`), the request metadata
as `headers` (one entry per value), the context (`NAMESPACE`, `INGRESS_NAME`, `SERVICE_NAME`,
`POD_NAME`) and, on the TLS port, `tls_assertions` (the client certificates
seen, when any). `EchoThree` is not implemented, so calling it gets UNIMPLEMENTED, which the
conformance tests use as the answer of a backend that was not meant to be reached.
`authority` stays empty: grpc.aio does not expose a call's `:authority` to the servicer, and
the harness does not check it.

`HTTP_PORT` (default 3000) serves gRPC in cleartext (HTTP/2 with prior knowledge);
`HTTPS_PORT` (8443) serves it over TLS when `TLS_SERVER_CERT` and `TLS_SERVER_PRIV_KEY`
(underscore, as echo-basic's gRPC mode spells it) name PEM files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc import aio

from propylon.echo import environment
from propylon.echo.grpcservice import SERVICE, EchoRequest, EchoResponse


@dataclass(frozen=True)
class GRPCEchoConfig:
    bind: str
    http_port: int = 3000
    https_port: int = 8443
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], bind: str) -> GRPCEchoConfig:
        return cls(bind, environment.port(environ, "HTTP_PORT", 3000),
                   environment.port(environ, "HTTPS_PORT", 8443),
                   environ.get("TLS_SERVER_CERT", ""), environ.get("TLS_SERVER_PRIV_KEY", ""))

    def credentials(self) -> grpc.ServerCredentials | None:
        if not (self.tls_cert and self.tls_key):
            return None
        return grpc.ssl_server_credentials(
            [(Path(self.tls_key).read_bytes(), Path(self.tls_cert).read_bytes())])


def _address(bind: str, port: int) -> str:
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def _assertions(method: str, context: aio.ServicerContext, pod: Mapping[str, str],
                tls: bool) -> EchoResponse:
    response = EchoResponse()
    assertions = response.assertions
    assertions.fully_qualified_method = method
    for key, value in context.invocation_metadata() or ():
        assertions.headers.add(key=key, value=value if isinstance(value, str)
                               else value.decode(errors="replace"))
    assertions.context.namespace = pod.get("namespace", "")
    assertions.context.ingress = pod.get("ingress", "")
    assertions.context.service_name = pod.get("service", "")
    assertions.context.pod = pod.get("pod", "")
    if tls:
        auth = context.auth_context()
        assertions.tls_assertions.peer_certificates.extend(
            v.decode(errors="replace") for v in auth.get("x509_pem_cert", ()))
    return response


def _service(pod: Mapping[str, str], tls: bool) -> grpc.GenericRpcHandler:
    def unary(name: str) -> grpc.RpcMethodHandler:
        async def handle(_: object, context: aio.ServicerContext) -> EchoResponse:
            return _assertions(f"/{SERVICE}/{name}", context, pod, tls)

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=EchoRequest.FromString,
            response_serializer=EchoResponse.SerializeToString)

    return grpc.method_handlers_generic_handler(
        SERVICE, {name: unary(name) for name in ("Echo", "EchoTwo")})


async def serve_grpc(config: GRPCEchoConfig, context: Mapping[str, str]) -> list[aio.Server]:
    """Start the cleartext server and, with a certificate, the TLS one."""
    servers = []
    plain = aio.server()
    plain.add_generic_rpc_handlers((_service(context, False),))
    plain.add_insecure_port(_address(config.bind, config.http_port))
    servers.append(plain)
    print(f"Starting gRPC server, listening on port {config.http_port}", flush=True)
    credentials = config.credentials()
    if credentials is not None:
        secure = aio.server()
        secure.add_generic_rpc_handlers((_service(context, True),))
        secure.add_secure_port(_address(config.bind, config.https_port), credentials)
        servers.append(secure)
        print(f"Starting gRPC TLS server, listening on port {config.https_port}", flush=True)
    for server in servers:
        await server.start()
    return servers
