"""TCP mode of the echo backend, like echo-basic with `TCP_ECHO_SERVER` set.

`TCP_PORT` (default 3000) serves plain TCP; `TLS_PORT` (8443) serves the same protocol over TLS
when `TLS_SERVER_CERT` and `TLS_SERVER_PRIV_KEY` (underscore, as echo-basic's TCP and gRPC
modes spell it) name PEM files. The protocol is line based: the server greets with
`Gateway API Test TCP Server`, then answers `PING` with `PONG`, `IS_TLS` with `true`/`false`
(whether this connection to the backend is TLS) and `TEST` with one JSON line:
`{namespace, ingress, service, pod, tcpport, tlsport, isTLS, tls}` where `tls` (TLS only) holds
`version`, `serverName` (the SNI the client sent), `negotiatedProtocol` and `cipherSuite`.
Any other line is echoed back.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from propylon.echo import environment
from propylon.echo.tls import remember_server_name, tls_assertions

WELCOME = b"Gateway API Test TCP Server\n"


@dataclass(frozen=True)
class TCPEchoConfig:
    bind: str
    tcp_port: int = 3000
    tls_port: int = 8443
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], bind: str) -> TCPEchoConfig:
        return cls(bind, environment.port(environ, "TCP_PORT", 3000),
                   environment.port(environ, "TLS_PORT", 8443),
                   environ.get("TLS_SERVER_CERT", ""), environ.get("TLS_SERVER_PRIV_KEY", ""))

    def tls_context(self) -> ssl.SSLContext | None:
        if not (self.tls_cert and self.tls_key):
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls_cert, self.tls_key)
        context.sni_callback = remember_server_name
        return context


def _test_payload(writer: asyncio.StreamWriter, context: Mapping[str, str],
                  config: TCPEchoConfig) -> dict[str, object]:
    tls = tls_assertions(writer.transport)
    out: dict[str, object] = {**context, "tcpport": str(config.tcp_port),
                              "tlsport": str(config.tls_port), "isTLS": tls is not None}
    if tls is not None:
        out["tls"] = {k: v for k, v in tls.items() if k != "peerCertificates"}
    return out


def _handler(context: Mapping[str, str], config: TCPEchoConfig
             ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(WELCOME)
            await writer.drain()
            while line := await reader.readline():
                command = line.strip().decode(errors="replace")
                if command == "PING":
                    reply = b"PONG\n"
                elif command == "IS_TLS":
                    reply = b"true\n" if tls_assertions(writer.transport) else b"false\n"
                elif command == "TEST":
                    reply = json.dumps(_test_payload(writer, context, config)).encode() + b"\n"
                else:
                    reply = line
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return handle


async def serve_tcp(config: TCPEchoConfig, context: Mapping[str, str]) -> list[asyncio.Server]:
    """Start the plain listener and, with a certificate, the TLS one."""
    handle = _handler(context, config)
    servers = [await asyncio.start_server(handle, config.bind, config.tcp_port,
                                          reuse_address=True)]
    print(f"Starting TCP server, listening on port {config.tcp_port}", flush=True)
    tls = config.tls_context()
    if tls is not None:
        servers.append(await asyncio.start_server(handle, config.bind, config.tls_port, ssl=tls,
                                                  reuse_address=True))
        print(f"Starting TLS server, listening on port {config.tls_port}", flush=True)
    return servers
