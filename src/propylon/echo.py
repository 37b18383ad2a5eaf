"""An HTTP echo backend that answers like the Gateway API conformance `echo-basic` server.

One aiohttp application with a catch-all route, dispatched by path the way echo-basic's mux does
(after collapsing `//` to `/`):

- `/health` -> 200 `OK`.
- `/status/NNN` -> an empty response with status NNN (400 if the URI is not exactly that).
- `/ws` with an upgrade request -> websocket echo of every frame.
- anything else -> the echo: a JSON object with `path` (the request URI as received, query
  included), `host`, `method`, `proto`, `headers` (Go-canonical name -> list of values, `Host`
  excluded, as Go's `http.Request.Header`), the context `namespace`, `ingress`, `service`, `pod`
  (from the env vars NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME) and `sni` (always empty:
  this server speaks plaintext only). `?delay=<Go duration>` (e.g. `500ms`, `1.5s`) sleeps first;
  `X-Echo-Set-Header: Name:value,Name2:value2` is copied into the response headers.

Every echoed request prints one line to stdout,
`Echoing back request made to <request URI> to client (<ip>:<port>)`, which is the line the
conformance mirror tests search backend logs for.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal

from aiohttp import WSMsgType, web

_STATUS_URI = re.compile(r"^/status/(\d\d\d)$")
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


def _context() -> dict[str, str]:
    return {
        "namespace": os.environ.get("NAMESPACE", ""),
        "ingress": os.environ.get("INGRESS_NAME", ""),
        "service": os.environ.get("SERVICE_NAME", ""),
        "pod": os.environ.get("POD_NAME", ""),
    }


def _echo_headers(request: web.Request) -> dict[str, str]:
    """Response headers requested by `X-Echo-Set-Header`, merged the way echo-basic does."""
    out: dict[str, str] = {}
    for header_list in request.headers.getall("X-Echo-Set-Header", []):
        for pair in header_list.split(","):
            name, _, value = pair.strip().partition(":")
            if not name:
                continue
            out[name] = f"{out[name]},{value.strip()}" if name in out else value
    return out


def _remote(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = f"[{peer[0]}]" if ":" in str(peer[0]) else str(peer[0])
        return f"{host}:{peer[1]}"
    return str(request.remote or "")


async def _echo(request: web.Request) -> web.StreamResponse:
    uri = request.raw_path
    print(f"Echoing back request made to {uri} to client ({_remote(request)})", flush=True)
    delay = request.query.get("delay")
    if delay:
        try:
            await asyncio.sleep(max(0.0, parse_go_duration(delay)))
        except ValueError as error:
            return web.json_response({"message": str(error)}, status=500)
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name.lower() != "host":
            headers.setdefault(canonical_header_name(name), []).append(value)
    body = {
        "path": uri,
        "host": request.host,
        "method": request.method,
        "proto": f"HTTP/{request.version.major}.{request.version.minor}",
        "headers": headers,
        **_context(),
        "sni": "",
    }
    return web.Response(
        body=json.dumps(body, indent=1).encode(),
        content_type="application/json",
        headers={**_echo_headers(request), "X-Content-Type-Options": "nosniff"},
    )


async def _websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def _dispatch(request: web.Request) -> web.StreamResponse:
    path = request.path.replace("//", "/")
    if path == "/health":
        return web.Response(text="OK")
    if path.startswith("/status/"):
        match = _STATUS_URI.match(request.raw_path)
        return web.Response(status=int(match.group(1)) if match else 400)
    if path == "/ws" and request.headers.get("Upgrade", "").lower() == "websocket":
        return await _websocket(request)
    return await _echo(request)


async def serve_echo(host: str, port: int) -> web.AppRunner:
    """Start the echo server on host:port; the caller stops it with `await runner.cleanup()`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def parse_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:9001` or `[::1]:9001` -> (host, port); raises ValueError with the fix."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {listen!r} is not HOST:PORT; write e.g. 127.0.0.1:9001")
    return host.strip("[]"), int(port)


def run(listen: str) -> None:
    """Serve the echo backend on `listen` (HOST:PORT) until Ctrl-C or SIGTERM."""
    host, port = parse_listen(listen)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runner = await serve_echo(host, port)
        print(f"Starting server, listening on {host}:{port} (http)", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
