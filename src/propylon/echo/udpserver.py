"""UDP mode of the echo backend, like echo-basic with `UDP_ECHO_SERVER` set (its udpechoserver).

`serve_udp(bind, port, context)` listens on `UDP_PORT` (default 8080) and answers every datagram
with one JSON datagram `{request, namespace, ingress, service, pod}` to its sender: `request` is
the payload received (at most its first 1024 bytes, echo-basic's buffer), the rest the pod's
context. Each datagram is logged as `Received UDP <payload> from <address>`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import cast

BUFFER = 1024  # echo-basic reads each datagram into a buffer of this size


class _Echo(asyncio.DatagramProtocol):
    def __init__(self, context: Mapping[str, str]) -> None:
        self.context = dict(context)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        payload = data[:BUFFER].decode(errors="replace")
        print(f"Received UDP {payload} from {addr[0]}:{addr[1]}", flush=True)
        if self.transport is not None:
            self.transport.sendto(json.dumps({"request": payload, **self.context}).encode(),
                                  addr)


async def serve_udp(bind: str, port: int, context: Mapping[str, str]
                    ) -> asyncio.DatagramTransport:
    """Start the UDP echo; close the returned transport to stop it."""
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Echo(context), local_addr=(bind, port))
    print(f"UDP server listening on {bind}:{port} with context: {dict(context)}", flush=True)
    return transport
