"""The https listener: TLS connections go to the aiohttp server, plain HTTP gets an error.

`Listener` accepts on a bound socket and looks at each connection's first bytes without
consuming them (MSG_PEEK). A TLS handshake (a record starting with byte 0x16) is handed with
the untouched socket to asyncio's TLS transport and the aiohttp protocol. A request in plain HTTP
is answered as Go's TLS server (so kube-apiserver) answers it, `400 Bad Request` with "Client
sent an HTTP request to an HTTPS server.", instead of the connection closing with an empty reply
(what it sent is read for up to `LINGER` seconds first, so that closing does not reset the
connection before the answer is read); anything else is closed. A client that connects and
sends nothing is dropped after `HANDSHAKE_TIMEOUT` seconds, like an unfinished TLS handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 60.0
LINGER = 1.0  # how long the rest of a plain request is read (closing unread data resets)
TLS_HANDSHAKE_RECORD = 0x16
# Go's tlsRecordHeaderLooksLikeHTTP: the first five bytes of a plain HTTP request
_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
PLAIN_HTTP_ANSWER = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                     b"Client sent an HTTP request to an HTTPS server.\n")


class Listener:
    """Serves `protocol_factory` over TLS on `sock` (see the module docstring)."""

    def __init__(self, sock: socket.socket, ssl_context: ssl.SSLContext,
                 protocol_factory: Callable[[], asyncio.Protocol]) -> None:
        self._sock = sock
        self._ssl = ssl_context
        self._factory = protocol_factory
        self._accepting: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._accepting = asyncio.create_task(self._accept())

    async def stop(self) -> None:
        """Stop accepting and drop connections not yet handed over; close the socket."""
        tasks = [*self._pending, *([self._accepting] if self._accepting else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sock.close()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._sock)
            task = asyncio.create_task(self._route(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _route(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        handed_over = False
        try:
            first = await asyncio.wait_for(_peek(conn), HANDSHAKE_TIMEOUT)
            if first[:1] == bytes([TLS_HANDSHAKE_RECORD]):
                await loop.connect_accepted_socket(self._factory, conn, ssl=self._ssl,
                                                   ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
                handed_over = True
            elif first.startswith(_HTTP_STARTS):
                await loop.sock_sendall(conn, PLAIN_HTTP_ANSWER)
                conn.shutdown(socket.SHUT_WR)
                await asyncio.wait_for(_drain(conn), LINGER)
        except (OSError, TimeoutError, ssl.SSLError) as err:
            log.debug("connection dropped before TLS: %r", err)
        finally:
            if not handed_over:
                conn.close()


async def _drain(conn: socket.socket) -> None:
    """Read and drop what the client sent until it closes its side (the answer must not be
    lost to a reset caused by closing with unread data)."""
    loop = asyncio.get_running_loop()
    while await loop.sock_recv(conn, 65536):
        pass


def _wake(waiter: asyncio.Future[None]) -> None:
    """Resolve `waiter` once the socket is readable (the reader may fire again before removal)."""
    if not waiter.done():
        waiter.set_result(None)


async def _peek(conn: socket.socket) -> bytes:
    """The first bytes sent on `conn` (up to five), left unread; b"" if it closed."""
    loop = asyncio.get_running_loop()
    while True:
        ready = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(conn.fileno())
        first = conn.recv(5, socket.MSG_PEEK)
        if not first or first[0] == TLS_HANDSHAKE_RECORD or len(first) == 5:
            return first
        # a plain request split before its fifth byte: wait for the rest
        await asyncio.sleep(0.01)
