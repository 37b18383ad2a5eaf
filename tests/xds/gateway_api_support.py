"""Helpers for tests that run the whole pure pipeline against a real Envoy: Gateway API objects ->
`propylon.translate` -> `propylon.xds.translate` -> the ADS cache, with backends on 127.0.0.1.

`Stack` holds a GatewayClass and one Gateway (`default/gw`, its listeners given by the test) plus
the objects a test adds; `program()` translates them with the Gateway's listener ports bound on
free loopback ports and pushes the result to the xDS cache. `echo_backend()` starts an aiohttp
server that answers every request with a JSON echo of what it received, and can fail on demand
(the `/retry` simulator of the conformance echo server: `succeedAfter`, `responseCode`,
`delayRetry`, a TCP reset when no code is given) and echoes WebSocket frames on `/ws` (with
`propylon.echo.httpserver.websocket_echo`). It is not that echo backend itself because the tests
read what it adds: the backend's name in every answer and a count of requests per path and query.
`h2c_backend()` speaks only cleartext HTTP/2 with prior knowledge (anything else gets a 400),
answering `h2c <path>`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from aiohttp import web
from xds_support import XdsFixture, free_port

from propylon.echo.httpserver import websocket_echo
from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.types import Result, Snapshot
from propylon.xds.translate import translate as to_envoy

KEY = GatewayKey("default", "gw")
NODE = str(KEY)


def service(name: str, backend_port: int, port: int = 8080,
            app_protocol: str | None = None) -> list[dict[str, Any]]:
    """A Service `default/<name>` on `port` and its EndpointSlice: 127.0.0.1:`backend_port`."""
    service_port: dict[str, Any] = {"name": "http", "port": port, "targetPort": backend_port}
    if app_protocol is not None:
        service_port["appProtocol"] = app_protocol
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [service_port]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-1", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}],
         "ports": [{"name": "http", "port": backend_port}]},
    ]


def route(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An HTTPRoute `default/<name>` attached to the Gateway unless `spec` says otherwise."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"parentRefs": [{"name": "gw"}], **spec}}


@dataclass
class Stack:
    """The Gateway `default/gw` with `listeners`, each listener port bound on a free port."""

    listeners: list[dict[str, Any]] = field(
        default_factory=lambda: [{"name": "http", "protocol": "HTTP", "port": 80}])
    objects: list[dict[str, Any]] = field(default_factory=list)
    bind_ports: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for listener in self.listeners:
            self.bind_ports.setdefault(int(listener["port"]), free_port())

    def port(self, listener_port: int = 80) -> int:
        """Where Envoy really serves the Gateway listener port `listener_port`."""
        return self.bind_ports[listener_port]

    def snapshot(self) -> Snapshot:
        gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                   "metadata": {"name": KEY.name, "namespace": KEY.namespace, "generation": 1},
                   "spec": {"gatewayClassName": "propylon", "listeners": self.listeners}}
        gateway_class = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                         "metadata": {"name": "propylon", "generation": 1},
                         "spec": {"controllerName": "propylon.dev/gateway-controller"}}
        objects: dict[str, list[dict[str, Any]]] = {}
        for obj in [gateway_class, gateway, *self.objects]:
            objects.setdefault(obj["kind"], []).append(obj)
        infra = InfraState(KEY, "127.0.0.1", tuple(PortState(p, b) for p, b in
                                                   sorted(self.bind_ports.items())), True)
        return Snapshot({k: tuple(v) for k, v in objects.items()}, {KEY: infra})

    def program(self, xds: XdsFixture) -> Result:
        """Translate everything and push the Gateway's Envoy resources; return the Result."""
        result = translate(self.snapshot())
        xds.cache.set(NODE, to_envoy(result.gateways[KEY]))
        return result


def route_conditions(result: Result, name: str) -> dict[str, tuple[str, str]]:
    """Conditions of HTTPRoute `default/<name>` on its first parent: type -> (status, reason)."""
    update = next(s for s in result.statuses if s.kind == "HTTPRoute" and s.name == name)
    conditions = update.status.to_json()["parents"][0]["conditions"]
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


@dataclass
class Echo:
    """A running echo backend: its port, and how many requests each path+query received."""

    port: int
    seen: Counter[str]


async def _reset(request: web.Request) -> web.Response:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


@asynccontextmanager
async def echo_backend(name: str) -> AsyncIterator[Echo]:
    """Serve an echo backend named `name` until the generator is closed."""
    attempts: Counter[str] = Counter()
    echo = Echo(0, Counter())

    async def handle(request: web.Request) -> web.StreamResponse:
        echo.seen[request.path_qs] += 1
        if request.path == "/ws":
            return await websocket_echo(request)
        query = request.query
        if "succeedAfter" in query:
            attempts[query.get("uuid", "")] += 1
            if attempts[query.get("uuid", "")] <= int(query["succeedAfter"]):
                if "delayRetry" in query:
                    await asyncio.sleep(int(query["delayRetry"].removesuffix("ms")) / 1000)
                if "responseCode" not in query:
                    return await _reset(request)
                return web.Response(status=int(query["responseCode"]))
        body = {"backend": name, "path": request.path_qs, "method": request.method,
                "host": request.host, "protocol": f"HTTP/{request.version.major}",
                "headers": {k.lower(): ",".join(request.headers.getall(k))
                            for k in request.headers}}
        return web.Response(text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free_port())
    await site.start()
    echo.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    try:
        yield echo
    finally:
        await runner.cleanup()


async def _h2c_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    try:
        while data := await reader.read(65536):
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                break
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    path = dict(event.headers)[":path"]  # type: ignore[arg-type]
                    body = f"h2c {path}".encode()
                    conn.send_headers(event.stream_id, [(":status", "200"),
                                                        ("content-length", str(len(body)))])
                    conn.send_data(event.stream_id, body, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
    finally:
        writer.close()


@asynccontextmanager
async def h2c_backend() -> AsyncIterator[int]:
    """Serve the h2c-only backend until the context ends; yields its port."""
    server = await asyncio.start_server(_h2c_connection, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
