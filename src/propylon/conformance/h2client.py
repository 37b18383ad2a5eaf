"""One HTTP/2 request on a new connection, the way Go's client makes it for the harness.

`get(address, port, method, path, headers, ssl_context=None, sni=None)` speaks HTTP/2 with
prior knowledge over cleartext TCP (`H2C_PRIOR_KNOWLEDGE`), or over TLS with ALPN `h2` when an
SSL context is given (`H2`; the server must select h2). The `Host` header becomes `:authority`
(the address:port when absent); the other headers are sent lower-cased. The answer is read to the
end of the stream (flow-control windows are re-opened as data arrives) and returned as a
`matching.Response`; a reset stream, a GOAWAY before the answer, or a closed connection raise
`H2Error`, as does an answer that is not HTTP/2.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from propylon.conformance.matching import Response

READ_SIZE = 65536


class H2Error(Exception):
    """The HTTP/2 exchange failed; the message says how."""


async def get(address: str, port: int, method: str, path: str, headers: Mapping[str, str],
              ssl_context: ssl.SSLContext | None = None, sni: str | None = None) -> Response:
    reader, writer = await asyncio.open_connection(
        address, port, ssl=ssl_context, server_hostname=sni if ssl_context else None)
    try:
        if ssl_context is not None:
            alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
            if alpn != "h2":
                raise H2Error(f"the server did not select h2 over ALPN (got {alpn!r})")
        return await _exchange(reader, writer, method, path, headers, ssl_context is not None,
                               f"{address}:{port}")
    finally:
        writer.close()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str,
                    path: str, headers: Mapping[str, str], tls: bool,
                    default_authority: str) -> Response:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    authority = next((v for k, v in headers.items() if k.lower() == "host"), default_authority)
    request_headers = [(":method", method), (":scheme", "https" if tls else "http"),
                       (":authority", authority), (":path", path)]
    request_headers += [(k.lower(), v) for k, v in headers.items() if k.lower() != "host"]
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, request_headers, end_stream=True)
    writer.write(conn.data_to_send())
    await writer.drain()
    status, body = 0, bytearray()
    response_headers: list[tuple[str, str]] = []
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            raise H2Error("the connection closed before the response ended")
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as err:
            raise H2Error(f"the server broke the HTTP/2 protocol: {err}") from None
        for event in events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                for raw_name, raw_value in event.headers:
                    name, value = _text(raw_name), _text(raw_value)
                    if name == ":status":
                        status = int(value)
                    elif not name.startswith(":"):
                        response_headers.append((name, value))
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
                raise H2Error(f"the stream was reset (error code {event.error_code})")
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise H2Error(f"GOAWAY (error code {event.error_code})")
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                return Response(status, response_headers, bytes(body))
        writer.write(conn.data_to_send())
        await writer.drain()


def _text(value: bytes | str) -> str:
    """A received header name or value as text: h2 decodes them (`header_encoding`) though its
    type hints say bytes."""
    return value if isinstance(value, str) else value.decode()
