"""TCP and UDP listeners through a real Envoy, on one port number: a TCP listener proxying
whole connections to weighted backends (both get connections), and a UDP listener proxying
each client's datagrams to a cluster holding two backends' endpoints (a UDPRoute's weighted
backends, both reached), the answers coming back to the client. Access logs: a line per TCP connection and per UDP
session."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path

from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.echo.tcpserver import TCPEchoConfig, serve_tcp
from propylon.ir import model as ir
from propylon.ir import telemetry as tel
from propylon.xds.translate import translate
from propylon.xds.translate.listeners import UDP_IDLE_TIMEOUT

NODE = "default/l4"


class _UDPEcho(asyncio.DatagramProtocol):
    """Answers every datagram with `<name>:` and the datagram."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.name + b":" + data, addr)


def _free_udp_and_tcp_port() -> int:
    """A port number free on 127.0.0.1 for both TCP and UDP a moment ago."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def gateway(port: int, tcp: tuple[int, int], udp: tuple[int, int]) -> ir.GatewayIR:
    tcp_chain = ir.TCPFilterChain("default/l4/tcp/default/route", (), (
        ir.WeightedBackend("default/a/3000", 1), ir.WeightedBackend("default/b/3000", 1)))
    udp_chain = ir.TCPFilterChain("default/l4/udp/default/dns", (), (
        ir.WeightedBackend("udproute/default/dns", 1),))
    return ir.GatewayIR(
        key=ir.GatewayKey("default", "l4"),
        listeners=(
            ir.Listener("default/l4/tcp", "127.0.0.1", port, port, "TCP", tcp_chains=(tcp_chain,)),
            ir.Listener("default/l4/udp", "127.0.0.1", port, port, "UDP", tcp_chains=(udp_chain,)),
        ),
        route_configs=(),
        clusters=(
            ir.Cluster("default/a/3000", (ir.Endpoint("127.0.0.1", tcp[0]),)),
            ir.Cluster("default/b/3000", (ir.Endpoint("127.0.0.1", tcp[1]),)),
            ir.Cluster("udproute/default/dns", (ir.Endpoint("127.0.0.1", udp[0], weight=1),
                                               ir.Endpoint("127.0.0.1", udp[1], weight=1))),
        ),
        secrets=(),
    )


async def _tcp_pod(port: int) -> str | None:
    """The pod of the TCP echo a new connection to the gateway reaches (None: no answer)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    except (TimeoutError, OSError):
        return None
    try:
        writer.write(b"TEST\n")
        welcome = await asyncio.wait_for(reader.readline(), 2)
        reply = await asyncio.wait_for(reader.readline(), 2)
        if welcome != b"Gateway API Test TCP Server\n" or not reply:
            return None
        return str(json.loads(reply)["pod"])
    except (TimeoutError, OSError, ValueError):
        return None
    finally:
        writer.close()


async def _udp_answer(port: int) -> bytes | None:
    """What a new UDP client sending `ping` to the gateway gets back (None: nothing)."""
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(b"ping")
        return await asyncio.wait_for(answers.get(), 0.5)
    except TimeoutError:
        return None
    finally:
        transport.close()


async def test_tcp_and_udp_listeners_share_a_port_number(
        xds: XdsFixture, envoy_factory: EnvoyFactory) -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for pod in ("a-1", "b-1"):
        servers += await serve_tcp(TCPEchoConfig("127.0.0.1", 0),
                                   {"namespace": "default", "ingress": "", "service": pod[0],
                                    "pod": pod})
    udp = [await loop.create_datagram_endpoint(lambda name=name: _UDPEcho(name),  # type: ignore[misc]
                                               local_addr=("127.0.0.1", 0))
           for name in ("dns-a", "dns-b")]
    tcp_ports = tuple(s.sockets[0].getsockname()[1] for s in servers)
    udp_ports = tuple(t.get_extra_info("sockname")[1] for t, _ in udp)
    port = _free_udp_and_tcp_port()
    xds.cache.set(NODE, translate(gateway(port, tcp_ports, udp_ports)))  # type: ignore[arg-type]
    await envoy_factory(NODE, xds.port)
    pods: set[str] = set()
    answers: set[bytes] = set()
    try:
        async def both_tcp_backends() -> bool:
            pod = await _tcp_pod(port)
            if pod is not None:
                pods.add(pod)
            return pods == {"a-1", "b-1"}

        async def both_udp_backends() -> bool:
            answer = await _udp_answer(port)
            if answer is not None:
                answers.add(answer)
            return answers == {b"dns-a:ping", b"dns-b:ping"}

        await wait_for(both_tcp_backends, what="connections to both weighted TCP backends")
        await wait_for(both_udp_backends, what="answers from both UDP backends")
    finally:
        for server in servers:
            server.close()
        for transport, _ in udp:
            transport.close()


async def test_a_tcp_connection_and_a_udp_session_each_write_an_access_log_line(
        xds: XdsFixture, envoy_factory: EnvoyFactory, tmp_path: Path) -> None:
    """The Gateway's access logs cover its TCP proxy (a line when the connection closes) and
    its UDP proxy (a line when the session ends, after `UDP_IDLE_TIMEOUT` without datagrams),
    as Envoy Gateway writes them."""
    loop = asyncio.get_running_loop()
    servers = await serve_tcp(TCPEchoConfig("127.0.0.1", 0),
                              {"namespace": "default", "ingress": "", "service": "a",
                               "pod": "a-1"})
    udp = await loop.create_datagram_endpoint(lambda: _UDPEcho("dns-a"),
                                              local_addr=("127.0.0.1", 0))
    tcp_port = servers[0].sockets[0].getsockname()[1]
    udp_port = udp[0].get_extra_info("sockname")[1]
    port = _free_udp_and_tcp_port()
    log_file = tmp_path / "l4.log"
    sink = tel.AccessLogSink("File", path=str(log_file))
    base = gateway(port, (tcp_port, tcp_port), (udp_port, udp_port))
    xds.cache.set(NODE, translate(replace(base, listeners=tuple(  # type: ignore[arg-type]
        replace(li, access_logs=(tel.AccessLog(sink, f"{li.protocol} %UPSTREAM_CLUSTER%\n"),))
        for li in base.listeners))))
    await envoy_factory(NODE, xds.port)

    def lines() -> list[str]:
        return log_file.read_text().splitlines() if log_file.exists() else []

    async def logged(line: str) -> bool:
        return line in lines()

    try:
        await wait_for(lambda: _answered(_tcp_pod(port)), what="a TCP connection proxied")
        await wait_for(lambda: _any(logged("TCP default/a/3000"), logged("TCP default/b/3000")),
                       what="the TCP connection's log line")
        await wait_for(lambda: _answered(_udp_answer(port)), what="a UDP answer")
        idle = UDP_IDLE_TIMEOUT.seconds
        # the UDP proxy leaves the upstream cluster out of what its session logs may read
        await wait_for(lambda: logged("UDP -"), timeout=idle + 30,
                       what="the UDP session's log line, once the session ended")
    finally:
        for server in servers:
            server.close()
        udp[0].close()


async def _any(*checks: Awaitable[bool]) -> bool:
    return any([await check for check in checks])


async def _answered(answer: Awaitable[object]) -> bool:
    return await answer is not None


async def test_a_client_traffic_policy_tcp_idle_timeout_closes_an_idle_connection(
        xds: XdsFixture, envoy_factory: EnvoyFactory) -> None:
    """`timeout.tcp.idleTimeout` (here 300 ms) is the TCP proxy's idle timeout: a connection
    that passed its bytes and then stays silent is closed by the gateway."""
    servers = await serve_tcp(TCPEchoConfig("127.0.0.1", 0),
                              {"namespace": "default", "ingress": "", "service": "a",
                               "pod": "a-1"})
    tcp_port = servers[0].sockets[0].getsockname()[1]
    port = _free_udp_and_tcp_port()
    base = gateway(port, (tcp_port, tcp_port), (tcp_port, tcp_port))
    tcp = replace(base.listeners[0], client_timeouts=ir.ClientTimeouts(tcp_idle_ms=300))
    xds.cache.set(NODE, translate(replace(base, listeners=(tcp,))))  # type: ignore[arg-type]
    await envoy_factory(NODE, xds.port)
    try:
        await wait_for(lambda: _answered(_tcp_pod(port)), what="a TCP connection proxied")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"TEST\n")
        assert await asyncio.wait_for(reader.readline(), 2) == b"Gateway API Test TCP Server\n"
        assert await asyncio.wait_for(reader.readline(), 2)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the gateway
        writer.close()
    finally:
        for server in servers:
            server.close()
