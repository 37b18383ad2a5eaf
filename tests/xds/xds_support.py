"""Helpers shared by the xDS tests and their fixtures (imported by `conftest.py`): free ports,
polling with a generous timeout, the types the fixtures hand out, and Envoy's config dump."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from propylon.infra.host.envoy_admin import admin_get
from propylon.xds.server import SnapshotCache, XdsServer


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail after a generous `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class XdsFixture:
    cache: SnapshotCache
    server: XdsServer
    port: int


@dataclass
class EnvoyProcess:
    process: asyncio.subprocess.Process
    admin: Path  # the admin Unix socket

    @property
    def pid(self) -> int:
        return self.process.pid


EnvoyFactory = Callable[..., Awaitable[EnvoyProcess]]


BackendFactory = Callable[..., Awaitable[int]]


async def config_dump(envoy: EnvoyProcess) -> dict[str, Any]:
    """Envoy's `/config_dump` (with EDS), read from its admin socket: the one place tests
    reach it."""
    status, body = await admin_get(envoy.admin, "/config_dump?include_eds")
    assert status == 200, body
    return cast(dict[str, Any], json.loads(body))
