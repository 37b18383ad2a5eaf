"""Fixtures for controller tests: the real embedded API server, started per test on a port of its
own, with a fault-injecting proxy in front of it (`faultproxy.FaultProxy`).

`api.client` talks to the server directly (the test's own reads and writes, which the proxy
neither counts nor delays); `api.proxied` goes through the proxy (the code under test).
Bookmarks come every 0.2 s and the server keeps the last 20 events, so a test can make a
watch's resourceVersion expire with a few writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_api_version
from propylon.apiserver import APIServer
from propylon.client import KubeClient, load_client, resource_class
from tests.controller.faultproxy import FaultProxy

EVENT_HISTORY = 20


@dataclass
class Api:
    server: APIServer
    proxy: FaultProxy
    client: KubeClient
    proxied: KubeClient

    async def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or update `obj` (server-side apply as the test's own field manager)."""
        info = by_api_version(obj["apiVersion"], obj["kind"])
        return await self.client.apply(resource_class(info)(obj), field_manager="test",
                                       force=True)

    async def delete(self, obj: dict[str, Any]) -> None:
        info = by_api_version(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        await self.client.delete(resource_class(info), meta["name"],
                                 namespace=meta.get("namespace"))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    server = APIServer(tmp_path / "api", event_history=EVENT_HISTORY, bookmark_interval=0.2)
    await server.start()
    proxy = FaultProxy(server)
    await proxy.start()
    client, proxied = load_client(server.kubeconfig_path), load_client(proxy.kubeconfig)
    yield Api(server, proxy, client, proxied)
    await proxied.close()
    await client.close()
    await proxy.stop()
    await server.stop()
