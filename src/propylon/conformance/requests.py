"""Requests to a Gateway, made the way the harness makes them, and the consistency loop.

`send(target, request)` makes one request on a new connection (aiohttp, keep-alive off):
- HTTP / HTTPS: HTTP/1.1 (the HTTPS host name is verified with Go's rules, `*.org` matching
  `example.org`, on a handshake made with the same SNI just before the request); `Host` from the case (else the address), `X-Echo-Set-Header` always
  sent (the `echoSetResponseHeaders` pairs, or empty), redirects followed unless
  `unfollowRedirect`; HTTPS uses the case's SNI and trusts only `serverCA`'s PEM, and presents
  `clientCert` when the case gives one.
- WEBSOCKET: dial `/ws` (or the path), send each `websocketEcho` frame, read the same back.
- H2C_PRIOR_KNOWLEDGE: cleartext HTTP/2 with prior knowledge; H2: HTTP/2 over TLS (ALPN h2,
  SNI and trust as for HTTPS); both through `h2client`, without redirects.
A transport error becomes a `Response` with status 0 and the error as reason. A target with a
`source` makes HTTP, HTTPS and WEBSOCKET connections from that address; HTTP/2 refuses it.
`GRPC` (`grpcclient`) and `TLS` (`tcp`) requests are made by the runner itself; here they raise
`Unsupported`.

`until_consistent(attempt)` repeats an attempt until it succeeds 3 times in a row (waiting
100 ms after a failure, or `poll_s`; none after a success) within 30 s; it returns None or the
last reason. `until_match(attempt, tick)` repeats it until one success.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from propylon.conformance import h2client
from propylon.conformance.matching import Response

REQUEST_TIMEOUT_S = 10.0
MAX_TIME_TO_CONSISTENCY_S = 30.0
REQUIRED_CONSECUTIVE = 3
POLL_S = 0.1
SUPPORTED = ("HTTP", "HTTPS", "WEBSOCKET", "H2C_PRIOR_KNOWLEDGE", "H2")


class Unsupported(Exception):
    """The runner cannot make this kind of request."""


@dataclass(frozen=True)
class Target:
    address: str
    port: int
    server_ca: bytes | None = None  # PEM the HTTPS client trusts
    client_cert: tuple[str, str] | None = None  # files of the certificate and key it presents
    source: str | None = None  # the address HTTP/HTTPS/WEBSOCKET connections are made from


@dataclass(frozen=True)
class Outcome:
    response: Response
    error: str = ""


def scheme(request: Mapping[str, Any]) -> str:
    return "https" if request.get("protocol") in ("HTTPS", "H2") else "http"


def _url(target: Target, request: Mapping[str, Any], ws: bool = False) -> URL:
    proto = scheme(request)
    if ws:
        proto = "ws"
    host = f"[{target.address}]" if ":" in target.address else target.address
    return URL(f"{proto}://{host}:{target.port}{request.get('path') or '/'}", encoded=True)


def _headers(request: Mapping[str, Any]) -> dict[str, str]:
    pairs = request.get("echoSetResponseHeaders") or {}
    echo = ",".join(f"{k}:{v}" for k, v in pairs.items()) if isinstance(pairs, Mapping) \
        else str(pairs)
    headers = {"X-Echo-Set-Header": echo}
    headers.update({str(k): str(v) for k, v in (request.get("headers") or {}).items()})
    if request.get("host"):
        headers["Host"] = str(request["host"])
    return headers


def _ssl(target: Target) -> ssl.SSLContext:
    """Trust only serverCA; the host name is checked afterwards with Go's rules."""
    context = ssl.create_default_context(cadata=(target.server_ca or b"").decode() or None)
    context.check_hostname = False
    if target.client_cert is not None:
        context.load_cert_chain(*target.client_cert)
    return context


def hostname_matches(peer_cert: Mapping[str, Any], host: str) -> bool:
    """Go's crypto/x509 VerifyHostname over DNS SANs: a `*` leftmost label matches one label."""
    host = host.lower().rstrip(".")
    for kind, name in peer_cert.get("subjectAltName", ()):
        if kind != "DNS":
            continue
        pattern = str(name).lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


async def _check_certificate(target: Target, sni: str) -> str | None:
    """A TLS handshake with this SNI; the reason when the served certificate is not valid for
    it (the certificate depends only on the SNI, so the request's connection gets the same)."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(
        target.address, target.port, ssl=_ssl(target), server_hostname=sni,
        local_addr=(target.source, 0) if target.source else None), REQUEST_TIMEOUT_S)
    try:
        cert = writer.get_extra_info("peercert") or {}
    finally:
        writer.close()
    return None if hostname_matches(cert, sni) else f"certificate is not valid for {sni!r}"


async def send(target: Target, request: Mapping[str, Any]) -> Outcome:
    protocol = request.get("protocol", "HTTP")
    if protocol not in SUPPORTED:
        raise Unsupported(f"protocol {protocol} is not supported by the runner")
    if protocol in ("H2C_PRIOR_KNOWLEDGE", "H2"):
        if target.source:
            raise Unsupported(f"a {protocol} request from a given source address")
        return await _http2(target, request)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(force_close=True, limit=1, local_addr=(
        (target.source, 0) if target.source else None))
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         auto_decompress=False) as session:
            if protocol == "WEBSOCKET":
                return await _websocket(session, target, request)
            kwargs: dict[str, Any] = {}
            if protocol == "HTTPS":
                kwargs["ssl"] = _ssl(target)
                kwargs["server_hostname"] = request.get("sni") or request.get("host")
                reason = await _check_certificate(target, str(kwargs["server_hostname"]))
                if reason:
                    return Outcome(Response(0), reason)
            async with session.request(str(request.get("method") or "GET"), _url(target, request),
                                       headers=_headers(request),
                                       allow_redirects=not request.get("unfollowRedirect"),
                                       **kwargs) as resp:
                body = await resp.read()
                return Outcome(Response(resp.status, list(resp.headers.items()), body))
    except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as err:
        return Outcome(Response(0), f"{type(err).__name__}: {err}")


async def _http2(target: Target, request: Mapping[str, Any]) -> Outcome:
    context, sni = None, None
    try:
        if request.get("protocol") == "H2":
            context = _ssl(target)
            context.set_alpn_protocols(["h2"])
            sni = str(request.get("sni") or request.get("host"))
            reason = await _check_certificate(target, sni)
            if reason:
                return Outcome(Response(0), reason)
        response = await asyncio.wait_for(h2client.get(
            target.address, target.port, str(request.get("method") or "GET"),
            str(request.get("path") or "/"), _headers(request), context, sni), REQUEST_TIMEOUT_S)
        return Outcome(response)
    except (TimeoutError, h2client.H2Error, OSError, ssl.SSLError) as err:
        return Outcome(Response(0), f"{type(err).__name__}: {err}")


async def _websocket(session: aiohttp.ClientSession, target: Target,
                     request: Mapping[str, Any]) -> Outcome:
    frames = request.get("websocketEcho") or []
    headers = {k: v for k, v in _headers(request).items() if k != "X-Echo-Set-Header"}
    async with session.ws_connect(_url(target, request, ws=True), headers=headers,
                                  origin=request.get("origin")) as ws:
        for frame in frames:
            if "text" in frame:
                await ws.send_str(frame["text"])
                message = await ws.receive_str()
                if message != frame["text"]:
                    return Outcome(Response(0), f"websocket echoed {message!r}")
            else:
                data = bytes(frame["binary"])
                await ws.send_bytes(data)
                received = await ws.receive_bytes()
                if received != data:
                    return Outcome(Response(0), f"websocket echoed {received!r}")
    return Outcome(Response(101))


async def until_consistent(attempt: Callable[[], Awaitable[str | None]],
                           max_time: float = MAX_TIME_TO_CONSISTENCY_S,
                           poll_s: float = POLL_S) -> str | None:
    """None once `attempt` returns None REQUIRED_CONSECUTIVE times in a row within max_time,
    waiting `poll_s` after a failed attempt."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_time
    streak = 0
    reason: str | None = "no attempt made"
    while loop.time() < deadline:
        reason = await attempt()
        if reason is None:
            streak += 1
            if streak >= REQUIRED_CONSECUTIVE:
                return None
            continue
        streak = 0
        await asyncio.sleep(poll_s)
    return f"not {REQUIRED_CONSECUTIVE} consecutive matches within {max_time:.0f}s; last: {reason}"


async def until_match(attempt: Callable[[], Awaitable[str | None]], tick_s: float,
                      max_time: float = MAX_TIME_TO_CONSISTENCY_S) -> str | None:
    """None once one `attempt` returns None (Envoy Gateway's `untilMatch`: the first at once,
    then one per tick, mismatches and transport errors ignored) within max_time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_time
    reason: str | None = "no attempt made"
    while True:
        reason = await attempt()
        if reason is None:
            return None
        if loop.time() + tick_s > deadline:
            return f"no matching response within {max_time:.0f}s; last: {reason}"
        await asyncio.sleep(tick_s)
