"""Helpers for controller tests: poll a condition with a generous timeout, a status given
as the JSON the API server stores (what `StatusUpdate.status.to_json()` returns), and a
proxy's client certificate signed for a key it made (as the xDS agent asks for one)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from propylon import pki
from propylon.controller.certs import CertManager


@dataclass(frozen=True)
class JSONStatus:
    """A status for `StatusUpdate` written as its JSON, as a test of the writer needs it."""

    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.body


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], what: str,
                     timeout: float = 20.0) -> None:
    """Wait until `predicate()` holds (awaited if it is a coroutine, e.g. a read from the API
    server); fail naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _holds(predicate):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _holds(predicate: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = predicate()
    return bool(await result) if inspect.isawaitable(result) else bool(result)


def proxy_certificate(certs: CertManager, node_id: str) -> dict[str, bytes]:
    """`tls.crt`, `tls.key` and `ca.crt` of a proxy of Gateway `node_id`: its own new key,
    signed by `certs` from a certificate signing request."""
    key = pki.new_key()
    return {**certs.sign_client(node_id, pki.request(key)), "tls.key": key}
