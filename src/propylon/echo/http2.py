"""A minimal HTTP/2 server connection for the echo backend, on the `h2` state machine.

`H2ServerProtocol` serves one HTTP/2 connection (cleartext after the prior-knowledge preface, or
TLS after ALPN chose `h2`). Each request, once its stream ends, is handed to an async handler
as its header list; the handler returns `(status, headers, body)` and the protocol sends it,
honouring the peer's flow-control windows. Request bodies are read (and their flow-control
credit returned) but not passed on: the echo backend never looks at them.

This module is imported only when the first HTTP/2 connection arrives, so replicas that never
see one do not pay for loading `h2`.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]
H2Handler = Callable[[Headers, asyncio.BaseTransport], Awaitable[Answer]]

# Connection-specific fields are forbidden in HTTP/2 (RFC 9113 section 8.2.2); Go drops them too.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})


class H2ServerProtocol(asyncio.Protocol):
    """One server-side HTTP/2 connection; `handler` answers each complete request."""

    def __init__(self, handler: H2Handler) -> None:
        self._handler = handler
        self._conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._transport: asyncio.Transport | None = None
        self._requests: dict[int, Headers] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._window_opened = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._conn.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for task in self._tasks.values():
            task.cancel()
        self._window_opened.set()

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._requests[event.stream_id] = list(event.headers or [])  # type: ignore[arg-type]
        elif isinstance(event, h2.events.DataReceived):
            self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._start(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self._requests.pop(event.stream_id, None)
            task = self._tasks.pop(event.stream_id, None)
            if task is not None:
                task.cancel()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._window_opened.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.close()

    def _start(self, stream_id: int) -> None:
        headers = self._requests.pop(stream_id, None)
        if headers is not None and stream_id not in self._tasks:
            self._tasks[stream_id] = asyncio.create_task(self._respond(stream_id, headers))

    async def _respond(self, stream_id: int, headers: Headers) -> None:
        try:
            assert self._transport is not None
            status, response_headers, body = await self._handler(headers, self._transport)
            fields = [(":status", str(status))]
            fields += [(name.lower(), value) for name, value in response_headers
                       if name and name.lower() not in _HOP_BY_HOP]
            fields.append(("content-length", str(len(body))))
            self._conn.send_headers(stream_id, fields, end_stream=not body)
            self._flush()
            await self._send_body(stream_id, body)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # the client reset the stream or the connection went away mid-answer
        except Exception:  # a handler bug: fail this stream, keep the connection
            traceback.print_exc()
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                self._conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            self._flush()
        finally:
            self._tasks.pop(stream_id, None)

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        view = memoryview(body)
        while view and self._transport is not None:
            window = min(self._conn.local_flow_control_window(stream_id),
                         self._conn.max_outbound_frame_size)
            if window <= 0:
                self._window_opened.clear()
                await self._window_opened.wait()
                continue
            chunk, view = view[:window], view[window:]
            self._conn.send_data(stream_id, chunk.tobytes(), end_stream=not view)
            self._flush()

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        """Close the connection (the server is shutting down or the peer sent GOAWAY)."""
        if self._transport is not None:
            self._transport.close()
