"""lightkube's AsyncClient, as the controller uses it: list+watch, 410 Gone, status, conflicts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from propylon.apiserver import APIServer

from .conftest import gateway, gateway_validator

Gateway = create_namespaced_resource("gateway.networking.k8s.io", "v1", "Gateway", "gateways")


@pytest.fixture
async def kube(server: APIServer) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(config=KubeConfig.from_file(server.kubeconfig_path))
    yield client
    await client.close()


async def test_list_then_watch_from_list_version(kube: AsyncClient) -> None:
    await kube.create(Gateway.from_dict(gateway("gw-a", app="web")))
    listing = kube.list(Gateway, namespace="default")
    names = [g.metadata.name async for g in listing]
    assert names == ["gw-a"]
    version = listing.resourceVersion
    await kube.create(Gateway.from_dict(gateway("gw-b", app="other")))
    await kube.create(Gateway.from_dict(gateway("gw-c", app="web")))
    events = kube.watch(Gateway, namespace="default", resource_version=version,
                        labels={"app": "web"})
    kind, obj = await asyncio.wait_for(anext(events), 30)
    assert (kind, obj.metadata.name) == ("ADDED", "gw-c")
    await kube.delete(Gateway, "gw-a", namespace="default")
    kind, obj = await asyncio.wait_for(anext(events), 30)
    assert (kind, obj.metadata.name) == ("DELETED", "gw-a")
    await events.aclose()


async def test_watch_from_compacted_version_is_410(tmp_path: Path) -> None:
    srv = APIServer(tmp_path / "s", validator=gateway_validator, event_history=2)
    await srv.start()
    client = AsyncClient(config=KubeConfig.from_file(srv.kubeconfig_path))
    try:
        first = await client.create(Gateway.from_dict(gateway("gw-0")))
        for i in range(1, 5):
            await client.create(Gateway.from_dict(gateway(f"gw-{i}")))
        events = client.watch(Gateway, namespace="default",
                              resource_version=first.metadata.resourceVersion)
        with pytest.raises(ApiError) as err:
            await asyncio.wait_for(anext(events), 30)
        assert err.value.status.code == 410
        assert err.value.status.reason == "Expired"
    finally:
        await client.close()
        await srv.stop()


async def test_status_patch_changes_only_status(kube: AsyncClient) -> None:
    created = await kube.create(Gateway.from_dict(gateway("gw1")))
    patched = await kube.patch(
        Gateway.Status, "gw1", {"spec": {"gatewayClassName": "ignored"},
                         "status": {"conditions": [{"type": "Accepted", "status": "True"}]}},
        namespace="default", patch_type=PatchType.MERGE)
    assert patched.status["conditions"][0]["type"] == "Accepted"
    assert patched.spec["gatewayClassName"] == "embedded"
    assert patched.metadata.generation == created.metadata.generation
    # the main resource ignores status, and a spec change bumps generation
    updated = await kube.patch(Gateway, "gw1", {"spec": {"gatewayClassName": "next"},
                                                "status": {"conditions": []}},
                               namespace="default", patch_type=PatchType.MERGE)
    assert updated.status["conditions"][0]["type"] == "Accepted"
    assert updated.metadata.generation == created.metadata.generation + 1


async def test_stale_update_is_conflict(kube: AsyncClient) -> None:
    created = await kube.create(Gateway.from_dict(gateway("gw1")))
    await kube.patch(Gateway, "gw1", {"spec": {"gatewayClassName": "b"}}, namespace="default",
                     patch_type=PatchType.MERGE)
    created.spec["gatewayClassName"] = "c"
    with pytest.raises(ApiError) as err:
        await kube.replace(created)
    assert err.value.status.code == 409
    assert err.value.status.reason == "Conflict"
    with pytest.raises(ApiError) as err:
        await kube.patch(Gateway.Status, "gw1", {"metadata": {
            "resourceVersion": created.metadata.resourceVersion},
            "status": {"conditions": []}}, namespace="default",
            patch_type=PatchType.MERGE)
    assert err.value.status.code == 409
    with pytest.raises(ApiError) as err:
        await kube.create(Gateway.from_dict(gateway("gw1")))
    assert (err.value.status.code, err.value.status.reason) == (409, "AlreadyExists")


async def test_server_side_apply_and_conflict(kube: AsyncClient) -> None:
    applied = await kube.apply(Gateway.from_dict(gateway("gw1")), field_manager="a")
    assert applied.spec["gatewayClassName"] == "embedded"
    await kube.patch(Gateway, "gw1", {"spec": {"gatewayClassName": "b"}}, namespace="default",
                     patch_type=PatchType.MERGE, field_manager="other")
    with pytest.raises(ApiError) as err:
        await kube.apply(Gateway.from_dict(gateway("gw1")), field_manager="a")
    assert err.value.status.code == 409 and "spec.gatewayClassName" in err.value.status.message
    forced = await kube.apply(Gateway.from_dict(gateway("gw1")), field_manager="a", force=True)
    assert forced.spec["gatewayClassName"] == "embedded"
