"""The HTTP echo backend: echo-basic's HTTP/1.1, H2C and HTTPS listeners.

`serve(EchoConfig)` starts the listeners echo-basic has (`EchoConfig.from_env` reads its
environment): `HTTP_PORT` (default 3000) serves HTTP/1.1; `H2C_PORT` (3001) serves HTTP/2
with prior knowledge and answers HTTP/1.1 with 400 unless it carries `Upgrade: h2c`;
`HTTPS_PORT` (8443) serves TLS with ALPN `h2` and `http/1.1`, only when `TLS_SERVER_CERT` and
`TLS_SERVER_PRIVKEY` name PEM files; `TLS_CLIENT_CACERTS` (a PEM file) asks clients for a
certificate and verifies one if given. All listeners bind `--bind` or `BIND_ADDRESS`
(default 127.0.0.1). `serve_echo(host, port)` starts one plain HTTP/1.1 listener instead.
HTTP/1.x is served by aiohttp's low-level server; HTTP/2 connections (told apart by ALPN or by
the first bytes) are handed to `propylon.echo.http2`, whose requests take the same routes.

The HTTP and HTTPS listeners route by path (after collapsing `//` to `/`), as echo-basic's mux:

- `/health` -> 200 `OK`.
- `/status/NNN` -> an empty response with status NNN (400 if the URI is not exactly that).
- `/ws` with a websocket upgrade (HTTP/1.1) -> echo of every frame; without one -> 400.
- `/retry/...?uuid=U&succeedAfter=N[&responseCode=C][&delayRetry=D]` -> the retry simulator:
  the first N attempts per uuid (counted in this process) fail, after D, with status C, or
  without C by a TCP RST (over HTTP/2, which cannot reset one request that way, with 500); later
  attempts get the echo.
- anything else -> the echo: a JSON object with `path` (the request URI, query included),
  `host`, `method`, `proto`, `headers` (Go-canonical name -> values, `Host` excluded), `httpPort`,
  the context `namespace`, `ingress`, `service`, `pod`, and on TLS connections `tls` (what
  `propylon.echo.tls` reports). `?delay=<Go duration>` sleeps first;
  `X-Echo-Set-Header: Name:value,Name2:value2` is copied into the response headers, and the
  ORCA load report of the environment, if any, is sent as `Endpoint-Load-Metrics`.

Every echo prints `Echoing back request made to <request URI> to client (<ip>:<port>)` to
stdout, flushed at once: the conformance mirror tests search backend logs for it. Only
`serve_echo(..., log_requests=False)` (the echoes of `propylon up --echo`) does not.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import struct
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from aiohttp import WSMsgType, web

from propylon.echo import environment
from propylon.echo.tls import remember_server_name, tls_assertions

if TYPE_CHECKING:
    from propylon.echo.http2 import H2ServerProtocol

_STATUS_URI = re.compile(r"^/status/(\d\d\d)$")
_GO_INT = re.compile(r"^[+-]?\d+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}

def parse_go_duration(text: str) -> float:
    """Seconds in a Go `time.ParseDuration` string such as `300ms`, `1.5s` or `1m30s`."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def canonical_header_name(name: str) -> str:
    """Go's `textproto.CanonicalMIMEHeaderKey`: `x-echo-set-header` -> `X-Echo-Set-Header`."""
    if not name or any(c in name for c in " \t\r\n:") or not name.isascii():
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


@dataclass
class _State:
    """What every listener of one echo process shares."""

    http_port: str
    context: dict[str, str]
    log_requests: bool = True  # print the "Echoing back request" line of each echo
    load_report: str = ""  # the ORCA report sent in `endpoint-load-metrics` ("" = none)
    attempts: dict[str, int] = field(default_factory=dict)  # retry simulator, per uuid


@dataclass(frozen=True)
class _Exchange:
    """One request as the handlers see it, whether it came over HTTP/1.1 or HTTP/2."""

    method: str
    uri: str
    host: str
    proto: str
    headers: list[tuple[str, str]]  # Go-canonical names, Host excluded
    remote: str
    tls: dict[str, object] | None

    @property
    def path(self) -> str:
        """The decoded path, `//` collapsed as echo-basic does before its mux sees it."""
        return unquote(self.uri.partition("?")[0]).replace("//", "/")

    def query(self, name: str) -> str:
        """The first value of query parameter `name`, or "" (Go's `URL.Query().Get`)."""
        for key, value in parse_qsl(self.uri.partition("?")[2], keep_blank_values=True):
            if key == name:
                return value
        return ""

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reset: bool = False  # abort the connection with a TCP RST instead of answering


def _error(status: int, message: str) -> _Reply:
    """echo-basic's `processError`: a JSON `{"message": ...}` body."""
    return _Reply(status, [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")],
                  json.dumps({"message": message}).encode())


def _echo_headers(exchange: _Exchange) -> list[tuple[str, str]]:
    """Response headers requested by `X-Echo-Set-Header`, merged the way echo-basic does."""
    out: dict[str, str] = {}
    for header_list in exchange.header_values("X-Echo-Set-Header"):
        for pair in header_list.split(","):
            name, _, value = pair.strip().partition(":")
            if not name:
                continue
            out[name] = f"{out[name]},{value.strip()}" if name in out else value.strip()
    return list(out.items())


async def _delay(exchange: _Exchange, parameter: str) -> str | None:
    """Sleep for the Go duration in query `parameter`; the parse error if it is not one."""
    text = exchange.query(parameter)
    if not text:
        return None
    try:
        await asyncio.sleep(max(0.0, parse_go_duration(text)))
    except ValueError as error:
        return str(error)
    return None


async def _echo(exchange: _Exchange, state: _State) -> _Reply:
    if state.log_requests:
        print(f"Echoing back request made to {exchange.uri} to client ({exchange.remote})",
              flush=True)
    if (error := await _delay(exchange, "delay")) is not None:
        return _error(500, error)
    headers: dict[str, list[str]] = {}
    for name, value in exchange.headers:
        headers.setdefault(name, []).append(value)
    body: dict[str, object] = {
        "path": exchange.uri,
        "host": exchange.host,
        "method": exchange.method,
        "proto": exchange.proto,
        "headers": dict(sorted(headers.items())),
        "httpPort": state.http_port,
        **state.context,
    }
    if exchange.tls is not None:
        body["tls"] = exchange.tls
    reply_headers = [(name, value) for name, value in _echo_headers(exchange)
                     if name.lower() not in ("content-type", "x-content-type-options")]
    reply_headers += [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")]
    if state.load_report:
        reply_headers.append(("Endpoint-Load-Metrics", state.load_report))
    return _Reply(200, reply_headers, json.dumps(body, indent=1).encode())


async def _retry(exchange: _Exchange, state: _State) -> _Reply:
    uuid = exchange.query("uuid")
    if not uuid:
        return _Reply(400, [], b"uuid is required")
    succeed_after = exchange.query("succeedAfter")
    if not _GO_INT.match(succeed_after):
        return _Reply(400, [], b"succeedAfter is required")
    if state.attempts.get(uuid, 0) >= int(succeed_after):
        return await _echo(exchange, state)
    state.attempts[uuid] = state.attempts.get(uuid, 0) + 1
    if (error := await _delay(exchange, "delayRetry")) is not None:
        return _error(500, error)
    code = exchange.query("responseCode")
    if _GO_INT.match(code):
        return _Reply(int(code))
    if exchange.proto.startswith("HTTP/2"):
        return _error(500, "response writer does not support hijacking")
    return _Reply(0, reset=True)


async def _route(exchange: _Exchange, state: _State) -> _Reply:
    """echo-basic's mux for the HTTP and HTTPS listeners."""
    path = exchange.path
    if path == "/health":
        return _Reply(200, [("Content-Type", "text/plain; charset=utf-8")], b"OK")
    if path.startswith("/status/"):
        match = _STATUS_URI.match(exchange.uri)
        return _Reply(int(match.group(1)) if match else 400)
    if path.startswith("/retry/"):
        return await _retry(exchange, state)
    if path == "/ws":  # a websocket upgrade never reaches here (see `_http1_handler`)
        return _Reply(400, [], b"")
    return await _echo(exchange, state)


async def _h2c_route(exchange: _Exchange, state: _State) -> _Reply:
    """The H2C listener: every HTTP/2 request (or HTTP/1.1 `Upgrade: h2c`) gets the echo."""
    if not exchange.proto.startswith("HTTP/2") and exchange.header_values("Upgrade")[:1] != ["h2c"]:
        return _Reply(400, [("Content-Type", "text/plain; charset=utf-8")], b"Expected h2c request")
    return await _echo(exchange, state)


Route = Callable[[_Exchange, _State], Awaitable[_Reply]]

def _remote(transport: asyncio.BaseTransport | None) -> str:
    peer = transport.get_extra_info("peername") if transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
        return f"{host}:{peer[1]}"
    return ""


def _reset(transport: asyncio.BaseTransport | None) -> None:
    """Close the connection abortively (SO_LINGER 0), so the peer sees a TCP RST."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:
        transport.close()


async def websocket_echo(request: web.BaseRequest) -> web.WebSocketResponse:
    """Accept the WebSocket upgrade of `request` and send every text and binary frame back."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


def _http1_handler(route: Route, state: _State, *, websocket: bool
                   ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """An aiohttp low-level handler answering HTTP/1.x through `route` (and `/ws` if `websocket`)."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        transport = request.transport
        exchange = _Exchange(
            method=request.method,
            uri=request.raw_path,
            host=request.headers.get("Host", ""),
            proto=f"HTTP/{request.version.major}.{request.version.minor}",
            headers=[(canonical_header_name(name), value) for name, value in request.headers.items()
                     if name.lower() != "host"],
            remote=_remote(transport),
            tls=tls_assertions(transport),
        )
        if websocket and exchange.path == "/ws" and \
                request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket_echo(request)
        reply = await route(exchange, state)
        if reply.reset:
            _reset(transport)
            raise asyncio.CancelledError  # nothing more to send on an aborted connection
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    return handle


def _h2_handler(route: Route, state: _State) -> Callable[
        [list[tuple[str, str]], asyncio.BaseTransport], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]:
    """The `http2` handler: HTTP/2 header list -> `route` -> (status, headers, body)."""

    async def handle(fields: list[tuple[str, str]], transport: asyncio.BaseTransport
                     ) -> tuple[int, list[tuple[str, str]], bytes]:
        pseudo = {name: value for name, value in fields if name.startswith(":")}
        regular = [(canonical_header_name(name), value) for name, value in fields
                   if not name.startswith(":") and name != "host"]
        cookies = [value for name, value in regular if name == "Cookie"]
        if len(cookies) > 1:  # HTTP/2 may split Cookie; Go joins it back into one field
            regular = [(name, value) for name, value in regular if name != "Cookie"]
            regular.append(("Cookie", "; ".join(cookies)))
        host = pseudo.get(":authority") or next((v for n, v in fields if n == "host"), "")
        exchange = _Exchange(
            method=pseudo.get(":method", ""), uri=pseudo.get(":path", ""), host=host,
            proto="HTTP/2.0", headers=regular, remote=_remote(transport), tls=tls_assertions(transport),
        )
        reply = await route(exchange, state)
        return reply.status, reply.headers, reply.body

    return handle


class _Switch(asyncio.Protocol):
    """Hands a fresh connection to the right protocol once it is known (ALPN or the first bytes).

    On a TLS listener the choice is made when the handshake completes (`connection_made`), on the
    cleartext H2C listener when the first bytes show whether the HTTP/2 preface is coming.
    """

    _PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self, http1: Callable[[], asyncio.Protocol], h2: Callable[[], asyncio.Protocol]) -> None:
        self._http1 = http1
        self._h2 = h2
        self._transport: asyncio.Transport | None = None
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            http2 = ssl_object.selected_alpn_protocol() == "h2"
            self._hand_over(self._h2() if http2 else self._http1())

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        size = min(len(self._buffer), len(self._PREFACE))
        if self._buffer[:size] != self._PREFACE[:size]:
            self._hand_over(self._http1())
        elif size == len(self._PREFACE):
            self._hand_over(self._h2())

    def _hand_over(self, protocol: asyncio.Protocol) -> None:
        assert self._transport is not None
        self._transport.set_protocol(protocol)
        protocol.connection_made(self._transport)
        if self._buffer:
            protocol.data_received(self._buffer)


@dataclass
class EchoConfig:
    """Where and how `serve` listens; `from_env` reads it the way echo-basic does."""

    bind: str = "127.0.0.1"
    http_port: int = 3000
    h2c_port: int = 3001
    https_port: int = 8443
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_cas: str = ""
    context: dict[str, str] = field(default_factory=lambda: environment.context({}))
    load_report: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], bind: str | None = None) -> EchoConfig:
        """The config in `environ`; `bind` (from `--bind`) wins over `BIND_ADDRESS`."""

        return cls(
            bind=bind or environ.get("BIND_ADDRESS") or "127.0.0.1",
            http_port=environment.port(environ, "HTTP_PORT", 3000),
            h2c_port=environment.port(environ, "H2C_PORT", 3001),
            https_port=environment.port(environ, "HTTPS_PORT", 8443),
            tls_cert=environ.get("TLS_SERVER_CERT", ""),
            tls_key=environ.get("TLS_SERVER_PRIVKEY", ""),
            tls_client_cas=environ.get("TLS_CLIENT_CACERTS", ""),
            context=environment.context(environ),
            load_report=environment.load_report(environ),
        )

    @property
    def https_enabled(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    def tls_context(self) -> ssl.SSLContext:
        """Server TLS with ALPN h2 and http/1.1; client certificates verified if given."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls_cert, self.tls_key)
        context.set_alpn_protocols(["h2", "http/1.1"])
        context.sni_callback = remember_server_name
        if self.tls_client_cas:
            context.load_verify_locations(cafile=self.tls_client_cas)
            context.verify_mode = ssl.CERT_OPTIONAL
        return context


class EchoServer:
    """The running listeners of `serve`; stop them with `await server.close()`."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self._http1: list[web.Server] = []
        self._h2: weakref.WeakSet[H2ServerProtocol] = weakref.WeakSet()

    def ports(self) -> list[int]:
        """The bound ports, in the order HTTP, H2C, HTTPS (if enabled)."""
        return [server.sockets[0].getsockname()[1] for server in self._servers]

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for protocol in list(self._h2):
            protocol.close()
        for http1 in self._http1:
            await http1.shutdown(1.0)
        for server in self._servers:
            await server.wait_closed()

    async def _listen(self, host: str, port: int, route: Route, state: _State, *,
                      h2: bool, tls: ssl.SSLContext | None = None) -> int:
        """Listen on host:port (0 picks a free port); the bound port."""
        http1 = web.Server(_http1_handler(route, state, websocket=route is _route), access_log=None)
        self._http1.append(http1)
        loop = asyncio.get_running_loop()
        if not h2:
            self._servers.append(await loop.create_server(http1, host, port, reuse_address=True))
            return self.ports()[-1]

        def make_h2() -> asyncio.Protocol:
            from propylon.echo import http2  # loaded on the first HTTP/2 connection

            protocol = http2.H2ServerProtocol(_h2_handler(route, state))
            self._h2.add(protocol)
            return protocol

        self._servers.append(await loop.create_server(
            lambda: _Switch(http1, make_h2), host, port, ssl=tls, reuse_address=True))
        return self.ports()[-1]


async def serve(config: EchoConfig) -> EchoServer:
    """Start the HTTP, H2C and (with a certificate) HTTPS listeners of `config`."""
    state = _State(str(config.http_port), dict(config.context), load_report=config.load_report)
    tls = config.tls_context() if config.https_enabled else None
    server = EchoServer()
    try:
        state.http_port = str(await server._listen(config.bind, config.http_port, _route, state, h2=False))
        print(f"Starting server, listening on port {state.http_port} (http)", flush=True)
        port = await server._listen(config.bind, config.h2c_port, _h2c_route, state, h2=True)
        print(f"Starting server, listening on port {port} (h2c)", flush=True)
        if tls is not None:
            port = await server._listen(config.bind, config.https_port, _route, state, h2=True, tls=tls)
            print(f"Starting server, listening on port {port} (https)", flush=True)
    except BaseException:
        await server.close()
        raise
    return server


async def serve_echo(host: str, port: int, context: Mapping[str, str] | None = None,
                     log_requests: bool = True) -> web.BaseRunner:
    """Start a plain HTTP/1.1 echo on host:port; the caller stops it with `await runner.cleanup()`.

    The context fields are the environment's at the time of the call, overridden by `context`
    (`environment.named`); `log_requests=False` prints no line per request.
    """
    state = _State(str(port), {**environment.context(os.environ), **(context or {})},
                   log_requests)
    runner = web.ServerRunner(web.Server(_http1_handler(_route, state, websocket=True), access_log=None))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
