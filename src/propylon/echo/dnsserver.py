"""A stand-in for the CoreDNS backend of the UDP tests (`registry.k8s.io/coredns/coredns`).

The base manifests run CoreDNS with a Corefile of server blocks (`ZONE:PORT { plugins }`): `.`
forwards to public resolvers, `foo.bar.com` has the `whoami` plugin. `server_blocks(text)` reads
those blocks (zone, port, plugin names). `serve_dns(bind, blocks)` listens on UDP on each port
and answers each query by its longest matching zone: a `whoami` zone replies NOERROR with, in the
additional section, an A record of the client's address and an SRV record `_udp.<name>` of its
port (what CoreDNS's whoami returns); any other zone replies SERVFAIL (forwarding leaves the
machine, which standalone mode does not do). A datagram that is not a DNS query is dropped.
Each query is logged as `<client> - <id> "<type> IN <name> udp" <rcode>`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from propylon.echo import dnsmessage

_BLOCK = re.compile(r"^\s*([^\s{]+)\s*\{(.*?)^\s*\}", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class ServerBlock:
    zone: str  # `foo.bar.com.`, `.` for the root
    port: int
    plugins: tuple[str, ...]


def server_blocks(corefile: str) -> list[ServerBlock]:
    """The server blocks of a Corefile; ValueError names a block it cannot read."""
    blocks = []
    for match in _BLOCK.finditer(corefile):
        zone, _, port = match.group(1).rpartition(":")
        if not zone:
            zone, port = match.group(1), "53"
        if not port.isdigit():
            raise ValueError(f"Corefile block {match.group(1)!r}: port {port!r} is not a number")
        plugins = tuple(line.split()[0] for line in match.group(2).splitlines() if line.split())
        blocks.append(ServerBlock(zone.rstrip(".") + ".", int(port), plugins))
    if not blocks:
        raise ValueError("the Corefile has no server block (ZONE:PORT { ... })")
    return blocks


def _zone_of(name: str, blocks: Iterable[ServerBlock]) -> ServerBlock | None:
    matching = [b for b in blocks
                if b.zone == "." or name.lower() == b.zone.lower()
                or name.lower().endswith("." + b.zone.lower())]
    return max(matching, key=lambda b: len(b.zone), default=None)


def answer(data: bytes, client: tuple[str, int], blocks: Iterable[ServerBlock]) -> bytes | None:
    """The reply to the query `data` from `client`, or None when it is not a DNS query."""
    try:
        question = dnsmessage.Question.parse(data)
    except ValueError:
        return None
    block = _zone_of(question.name, blocks)
    if block is None:
        return dnsmessage.reply(question, dnsmessage.RCODE_REFUSED)
    if "whoami" not in block.plugins:
        return dnsmessage.reply(question, dnsmessage.RCODE_SERVFAIL)
    srv = dnsmessage.srv_record(f"_udp.{question.name}", client[1], question.name)
    address = () if ":" in client[0] else (dnsmessage.a_record(question.name, client[0]),)
    return dnsmessage.reply(question, dnsmessage.RCODE_OK, (*address, srv))


class _Server(asyncio.DatagramProtocol):
    def __init__(self, blocks: list[ServerBlock]) -> None:
        self.blocks = blocks
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        response = answer(data, client, self.blocks)
        if response is None or self.transport is None:
            return
        question = dnsmessage.Question.parse(data)
        rcode = {0: "NOERROR", 2: "SERVFAIL", 5: "REFUSED"}[response[3] & 0x0F]
        print(f'{client[0]}:{client[1]} - {question.ident} "{question.qtype} IN '
              f'{question.name} udp" {rcode}', flush=True)
        self.transport.sendto(response, addr)


async def serve_dns(bind: str, blocks: list[ServerBlock]) -> list[asyncio.DatagramTransport]:
    """Listen on every port of `blocks`; close the returned transports to stop."""
    loop = asyncio.get_running_loop()
    transports = []
    for port in sorted({b.port for b in blocks}):
        server = _Server([b for b in blocks if b.port == port])
        transport, _ = await loop.create_datagram_endpoint(lambda: server,  # noqa: B023
                                                           local_addr=(bind, port))
        transports.append(transport)
        print(f"CoreDNS stand-in listening on {bind}:{port}/udp", flush=True)
    return transports
