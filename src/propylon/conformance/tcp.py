"""`protocol: TLS` and `protocol: TCP` requests: connections speaking the TCP echo protocol
(utils/tcp).

`exchange(target, request)` dials the Gateway, with TLS for `TLS` (SNI = the request's `sni`,
trusting only `serverCA`, host name checked against the SNI, TLS 1.2 at least) and plain for
`TCP`, reads the welcome line, then sends `PING`, `IS_TLS` and `TEST` and reads their answers. `mismatch(reply, expect)` checks
them the way the Go helper does: welcome line, `PONG`, `IS_TLS` equal to `backendIsTLS`, and in
the `TEST` JSON the namespace, the pod prefix `<backend>-` and, with `backendSNI`, the server
name the backend saw.

`wait_valid` retries (every 100 ms for TLS, every second for TCP as v1.6.1's helper ticks, up to
30 s) until one exchange matches; `wait_rejected` retries until one dial fails with EOF or a
connection reset (`connectionRejected`). For the TCPRoute tests (v1.6.1): `pod_once` is
`EchoSendOnce` (one plain connection, welcome line, `TEST`, the pod named in its answer, all within
a deadline), `wait_connectable` is `ExpectAddressBeAvailable` (poll every 100 ms until a plain
dial succeeds) and `samples` sends `pod_once` N times, each of which must answer from the backend,
failing at the first error or other pod (the multiple-routes test's `require` loop).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.conformance.requests import (
    MAX_TIME_TO_CONSISTENCY_S,
    POLL_S,
    REQUEST_TIMEOUT_S,
    Target,
)

WELCOME = "Gateway API Test TCP Server\n"
TCP_TICK_S = 1.0  # v1.6.1's WaitForValidTCPResponse ticks every second
SAMPLE_TIMEOUT_S = 5.0  # the multiple-routes test's deadline per sampled connection
REJECTED = (ssl.SSLEOFError, ConnectionResetError, asyncio.IncompleteReadError, EOFError)


@dataclass(frozen=True)
class Reply:
    welcome: str
    pong: str
    is_tls: str
    test: dict[str, Any]


def _context(target: Target, sni: str | None, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=(target.server_ca or b"").decode() or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = bool(sni)
    return context


async def _line(reader: asyncio.StreamReader) -> str:
    data = await reader.readline()
    if not data:
        raise EOFError("connection closed")
    return data.decode(errors="replace")


async def exchange(target: Target, request: Mapping[str, Any]) -> Reply:
    sni = request.get("sni")
    tls = request.get("protocol", "TLS") == "TLS"
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        target.address, target.port, ssl=_context(target, sni, True) if tls else None,
        server_hostname=(sni or target.address) if tls else None), REQUEST_TIMEOUT_S)
    try:
        async def ask(command: str) -> str:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return await asyncio.wait_for(_line(reader), REQUEST_TIMEOUT_S)

        welcome = await asyncio.wait_for(_line(reader), REQUEST_TIMEOUT_S)
        pong = await ask("PING")
        is_tls = await ask("IS_TLS")
        test = json.loads(await ask("TEST"))
        return Reply(welcome, pong, is_tls, test if isinstance(test, dict) else {})
    finally:
        writer.close()


def mismatch(reply: Reply, expect: Mapping[str, Any]) -> str | None:
    if reply.welcome != WELCOME:
        return f"welcome line {reply.welcome!r}"
    if reply.pong != "PONG\n":
        return f"PING answered {reply.pong!r}"
    wanted = "true" if expect.get("backendIsTLS") else "false"
    if reply.is_tls.rstrip("\n") != wanted:
        return f"IS_TLS answered {reply.is_tls.rstrip()!r}, expected {wanted}"
    test = reply.test
    if test.get("namespace") != expect.get("namespace", ""):
        return f"namespace {test.get('namespace')!r}, expected {expect.get('namespace')!r}"
    if not str(test.get("pod", "")).startswith(f"{expect.get('backend', '')}-"):
        return f"pod {test.get('pod')!r} is not of backend {expect.get('backend')!r}"
    sni = expect.get("backendSNI")
    if sni and (test.get("tls") or {}).get("serverName") != sni:
        return f"backend saw server name {(test.get('tls') or {}).get('serverName')!r}, " \
               f"expected {sni!r}"
    return None


async def _until(attempt: Any, max_time: float, tick: float = POLL_S) -> str | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_time
    reason = "no attempt made"
    while loop.time() < deadline:
        result = await attempt()
        if result is None:
            return None
        reason = result
        await asyncio.sleep(tick)
    return f"no valid exchange within {max_time:.0f}s; last: {reason}"


async def wait_valid(target: Target, request: Mapping[str, Any], expect: Mapping[str, Any],
                     max_time: float = MAX_TIME_TO_CONSISTENCY_S) -> str | None:
    async def attempt() -> str | None:
        try:
            return mismatch(await exchange(target, request), expect)
        except (TimeoutError, OSError, EOFError, ssl.SSLError, ValueError) as err:
            return f"{type(err).__name__}: {err}"

    return await _until(attempt, max_time,
                        TCP_TICK_S if request.get("protocol") == "TCP" else POLL_S)


async def pod_once(target: Target, timeout: float = REQUEST_TIMEOUT_S) -> str:
    """One `TEST` over a new plain connection: the pod that answered. OSError, TimeoutError,
    EOFError or ValueError when the exchange fails."""
    async def ask() -> str:
        reader, writer = await asyncio.open_connection(target.address, target.port)
        try:
            welcome = await _line(reader)
            if welcome != WELCOME:
                raise ValueError(f"unexpected TCP welcome message {welcome!r}")
            writer.write(b"TEST\n")
            await writer.drain()
            test = json.loads(await _line(reader))
        finally:
            writer.close()
        pod = str(test.get("pod", "")) if isinstance(test, dict) else ""
        if not pod:
            raise ValueError(f"TCP echo answer without a pod name: {test!r}")
        return pod

    return await asyncio.wait_for(ask(), timeout)


async def wait_connectable(target: Target, max_time: float = MAX_TIME_TO_CONSISTENCY_S
                           ) -> str | None:
    async def attempt() -> str | None:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(target.address, target.port), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError) as err:
            return f"{type(err).__name__}: {err}"
        writer.close()
        return None

    return await _until(attempt, max_time)


async def samples(target: Target, count: int, backend: str,
                  timeout: float = SAMPLE_TIMEOUT_S) -> str | None:
    for index in range(count):
        try:
            pod = await pod_once(target, timeout)
        except (TimeoutError, OSError, EOFError, ValueError) as err:
            return f"TCP echo request {index + 1}/{count} failed: {type(err).__name__}: {err}"
        if not pod.startswith(f"{backend}-"):
            return f"TCP echo request {index + 1}/{count} reached {pod!r}, not {backend!r}"
    return None


async def wait_rejected(target: Target, request: Mapping[str, Any],
                        max_time: float = MAX_TIME_TO_CONSISTENCY_S) -> str | None:
    sni = request.get("sni")

    async def attempt() -> str | None:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(
                target.address, target.port, ssl=_context(target, sni, False),
                server_hostname=sni or target.address), REQUEST_TIMEOUT_S)
        except REJECTED:
            return None
        except (TimeoutError, OSError, ssl.SSLError) as err:
            return f"dial failed otherwise: {type(err).__name__}: {err}"
        writer.close()
        return "the TLS handshake succeeded"

    return await _until(attempt, max_time)
