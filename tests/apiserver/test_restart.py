"""State survives a restart: objects, a growing resourceVersion, the URL and the kubeconfig."""

from __future__ import annotations

import stat
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource

from propylon.apiserver import APIServer

from .conftest import gateway

Gateway = create_namespaced_resource("gateway.networking.k8s.io", "v1", "Gateway", "gateways")


async def test_restart_keeps_objects_versions_and_url(tmp_path: Path) -> None:
    first = APIServer(tmp_path)
    await first.start()
    url, kubeconfig = first.url, first.kubeconfig_path.read_text()
    assert stat.S_IMODE(first.kubeconfig_path.stat().st_mode) == 0o600
    client = AsyncClient(config=KubeConfig.from_file(first.kubeconfig_path))
    created = await client.create(Gateway.from_dict(gateway("gw1")))
    await client.close()
    await first.stop()

    second = APIServer(tmp_path)
    await second.start()
    try:
        assert second.url == url
        assert second.kubeconfig_path.read_text() == kubeconfig
        client = AsyncClient(config=KubeConfig.from_file(second.kubeconfig_path))
        found = await client.get(Gateway, "gw1", namespace="default")
        assert found.metadata.uid == created.metadata.uid
        again = await client.create(Gateway.from_dict(gateway("gw2")))
        assert int(again.metadata.resourceVersion) > int(created.metadata.resourceVersion)
        await client.close()
    finally:
        await second.stop()
