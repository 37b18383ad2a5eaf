"""`protocol: UDP` and `protocol: DNS` requests: datagrams to a Gateway's UDP listener, made the
way v1.6.1's UDPRoute tests make them (`conformance/utils/udp`, `udproute-*.go`).

`pod_once(target, payload, timeout)` sends one datagram from a fresh socket and returns the JSON
answer of the UDP echo (`{request, namespace, ingress, service, pod}`) read within `timeout`
(OSError, TimeoutError or ValueError otherwise). The checks poll every second (`TICK_S`) up to a
limit (DefaultTestTimeout, 60 s, unless the case says `within`):
- `wait_echo` (`ExpectEchoResponseFromBackend`): one datagram `gateway-api-conformance-udp-echo`
  per try, 2 s for the answer; any answer passes, or, when `expect` names a `service` and/or
  `namespace`, an answer whose JSON carries them;
- `wait_samples` (the multiple-routes test): each try sends `count` datagrams
  (`gateway-api-conformance-udp-weight\\n`) one after another; one without an answer ends the try
  (retried), an answer from a pod whose Deployment (pod name minus its last two `-` segments) is
  not `backend` fails at once;
- `wait_dns` (the simple test, miekg/dns `Exchange`): an A query for `question` with a fresh id,
  2 s for the first answer, which must be a DNS response with that id; its rcode is not read.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from propylon.conformance.requests import Target
from propylon.echo import dnsmessage

TICK_S = 1.0
DEFAULT_TEST_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 2.0
ECHO_PROBE = b"gateway-api-conformance-udp-echo"
WEIGHT_PROBE = b"gateway-api-conformance-udp-weight\n"


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def exchange(target: Target, payload: bytes, timeout: float = ANSWER_TIMEOUT_S) -> bytes:
    """Send `payload` from a new socket; the first answer, within `timeout`."""
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        _Answer, remote_addr=(target.address, target.port))
    try:
        transport.sendto(payload)
        return await asyncio.wait_for(protocol.answer, timeout)
    finally:
        transport.close()


async def pod_once(target: Target, payload: bytes = WEIGHT_PROBE,
                   timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    answer = json.loads(await exchange(target, payload, timeout))
    if not isinstance(answer, dict) or not answer.get("pod"):
        raise ValueError(f"UDP echo answer without a pod name: {answer!r}")
    return answer


def deployment_of(pod: str) -> str:
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) >= 3 else pod


async def _poll(attempt: Callable[[], Awaitable[str | None]], within: float) -> str | None:
    """Try every TICK_S until an attempt returns None; a reason starting with `!` is final."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    reason = "no attempt made"
    while True:
        result = await attempt()
        if result is None:
            return None
        if result.startswith("!"):
            return result[1:]
        reason = result
        if loop.time() + TICK_S > deadline:
            return f"no valid answer within {within:.0f}s; last: {reason}"
        await asyncio.sleep(TICK_S)


async def wait_echo(target: Target, expect: Mapping[str, Any],
                    within: float = DEFAULT_TEST_TIMEOUT_S) -> str | None:
    async def attempt() -> str | None:
        try:
            data = await exchange(target, ECHO_PROBE)
        except (OSError, TimeoutError) as err:
            return f"no answer: {type(err).__name__}: {err}"
        if not expect.get("service") and not expect.get("namespace"):
            return None
        try:
            answer = json.loads(data)
        except ValueError as err:
            return f"answer is not JSON: {err}"
        for field in ("service", "namespace"):
            if expect.get(field) and answer.get(field) != expect[field]:
                return f"answered by {field} {answer.get(field)!r}, expected {expect[field]!r}"
        return None

    return await _poll(attempt, within)


async def wait_samples(target: Target, count: int, backend: str,
                       within: float = DEFAULT_TEST_TIMEOUT_S) -> str | None:
    async def attempt() -> str | None:
        for index in range(count):
            try:
                pod = str((await pod_once(target))["pod"])
            except (OSError, TimeoutError, ValueError) as err:
                return f"UDP probe {index + 1} failed: {type(err).__name__}: {err}"
            if deployment_of(pod) != backend:
                return f"!UDP traffic reached {deployment_of(pod)!r} (pod {pod!r}); only " \
                       f"{backend!r} should receive traffic"
        return None

    return await _poll(attempt, within)


async def wait_dns(target: Target, question: str,
                   within: float = DEFAULT_TEST_TIMEOUT_S) -> str | None:
    async def attempt() -> str | None:
        ident = random.randrange(1 << 16)
        try:
            answer = dnsmessage.reply_id(await exchange(target, dnsmessage.query(question, ident)))
        except (OSError, TimeoutError, ValueError) as err:
            return f"no DNS response: {type(err).__name__}: {err}"
        return None if answer == ident else f"DNS response id {answer}, expected {ident}"

    return await _poll(attempt, within)
