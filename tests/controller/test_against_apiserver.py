"""The controller against the embedded API server, read through lightkube exactly like a cluster."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import ENVOY_GATEWAY_GROUP, KindInfo, by_kind
from propylon.apiserver import APIServer
from propylon.client import KubeClient, PatchType, load_client, resource_class
from propylon.controller.reconciler import Controller
from propylon.controller.status import StatusWriter
from propylon.informer import Informer
from propylon.translate.types import DEFAULT_CONTROLLER_NAME, StatusUpdate
from propylon.xds.server import SnapshotCache
from tests.controller.helpers import JSONStatus, eventually
from tests.controller.infra_double import LoopbackInfra

GW = by_kind("Gateway")
ROUTE = by_kind("HTTPRoute")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "api", event_history=3, bookmark_interval=0.2)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def client(server: APIServer) -> AsyncIterator[KubeClient]:
    c = load_client(server.kubeconfig_path)
    yield c
    await c.close()


def gateway(name: str, cls: str = "propylon", port: int = 80) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": cls,
                     "listeners": [{"name": "http", "port": port, "protocol": "HTTP"}]}}


async def create(client: KubeClient, info: KindInfo, obj: dict[str, Any]) -> dict[str, Any]:
    return dict(await client.create(resource_class(info)(obj)))


async def delete(client: KubeClient, name: str) -> None:
    await client.delete(resource_class(GW), name, namespace="default")


async def start(inf: Informer) -> asyncio.Task[None]:
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.synced.wait(), 20)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_informer_follows_the_server(client: KubeClient) -> None:
    await create(client, GW, gateway("a"))
    inf = Informer(client, GW)
    task = await start(inf)
    try:
        assert set(inf.store) == {("default", "a")}
        await create(client, GW, gateway("b"))
        await eventually(lambda: ("default", "b") in inf.store, "ADDED")
        await client.patch(resource_class(GW), "a", {"spec": {"gatewayClassName": "x"}},
                           namespace="default", patch_type=PatchType.MERGE)
        await eventually(lambda: inf.store[("default", "a")]["spec"]["gatewayClassName"] == "x",
                         "MODIFIED")
        await delete(client, "a")
        await eventually(lambda: ("default", "a") not in inf.store, "DELETED")
    finally:
        await stop(task)


async def test_informer_relists_when_its_version_expired(client: KubeClient) -> None:
    await create(client, GW, gateway("a"))
    inf = Informer(client, GW)
    await stop(await start(inf))
    # While the informer is away: a delete, a create, and more events than the server keeps.
    await delete(client, "a")
    for i in range(5):
        await create(client, GW, gateway(f"n{i}"))
    task = asyncio.create_task(inf.run())  # resumes from its stale resourceVersion
    try:
        await eventually(lambda: inf.lists == 2, "the relist after 410 Gone")
        assert sorted(n for _, n in inf.store) == [f"n{i}" for i in range(5)]
    finally:
        await stop(task)


async def test_informer_reconnects_after_server_restart(
        server: APIServer, client: KubeClient) -> None:
    inf = Informer(client, GW)
    task = await start(inf)
    try:
        await server.stop()
        await server.start()  # same state directory, same port, same credentials
        await create(client, GW, gateway("after-restart"))
        await eventually(lambda: ("default", "after-restart") in inf.store, "the reconnect")
    finally:
        await stop(task)


async def test_status_writer_merges_skips_and_survives_a_stale_store(
        client: KubeClient) -> None:
    route = await create(client, ROUTE, {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "default"}, "spec": {}})
    foreign = {"parentRef": {"name": "theirs"}, "controllerName": "example.com/other",
               "conditions": []}
    await client.patch(resource_class(ROUTE).Status, "r", {"status": {"parents": [foreign]}},
                       namespace="default", patch_type=PatchType.MERGE)
    stale = {"obj": route}  # the store still holds the version before the foreign write
    writer = StatusWriter(client, lambda info, ns, name: stale["obj"], DEFAULT_CONTROLLER_NAME)
    task = asyncio.create_task(writer.run())
    # written as the translator writes it: group and kind given (the server defaults them)
    ours = {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                          "namespace": "default", "name": "gw"},
            "controllerName": DEFAULT_CONTROLLER_NAME,
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                            "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    update = StatusUpdate("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "r", 1,
                          JSONStatus({"parents": [ours]}))
    try:
        writer.submit([update])
        await asyncio.wait_for(writer.wait_idle(), 20)
        live = dict(await client.get(resource_class(ROUTE), "r", namespace="default"))
        defaulted = {**foreign, "parentRef": {"group": "gateway.networking.k8s.io",
                                              "kind": "Gateway", "name": "theirs"}}
        assert live["status"]["parents"] == [defaulted, ours]
        assert writer.writes == 1

        stale["obj"] = live
        writer.submit([update])
        await asyncio.wait_for(writer.wait_idle(), 20)
        assert writer.writes == 1
    finally:
        await stop(task)


async def test_controller_programs_a_gateway_end_to_end(client: KubeClient) -> None:
    cache = SnapshotCache()
    controller = Controller(client, cache, LoopbackInfra("127.0.0.10"))
    task = asyncio.create_task(controller.run())
    try:
        await create(client, by_kind("GatewayClass"), {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "propylon"},
            "spec": {"controllerName": DEFAULT_CONTROLLER_NAME}})
        await create(client, GW, gateway("gw"))
        gw_res = resource_class(GW)
        live: dict[str, Any] = {}

        async def programmed() -> bool:
            live.update(dict(await client.get(gw_res, "gw", namespace="default")))
            status = live.get("status") or {}
            return any(c["type"] == "Programmed" and c["status"] == "True"
                       for c in status.get("conditions", [])) and bool(status.get("addresses"))

        for _ in range(400):
            if await programmed():
                break
            await asyncio.sleep(0.05)
        assert await programmed(), live.get("status")
        assert live["status"]["addresses"][0]["value"] == "127.0.0.10"
        assert cache.get("default/gw") is not None
    finally:
        await stop(task)


async def test_only_tls_secrets_are_read_and_another_type_is_an_invalid_certificate_ref(
        client: KubeClient) -> None:
    pem = "LS0tLS1CRUdJTiBYLS0tLS0KeAotLS0tLUVORCBYLS0tLS0K"  # a PEM-shaped block, base64
    await create(client, by_kind("Secret"), {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "opaque-cert", "namespace": "default"},
        "data": {"tls.crt": pem, "tls.key": pem}})
    await create(client, by_kind("GatewayClass"), {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "propylon"}, "spec": {"controllerName": DEFAULT_CONTROLLER_NAME}})
    https = gateway("secure")
    https["spec"]["listeners"] = [{"name": "https", "port": 443, "protocol": "HTTPS",
                                   "tls": {"certificateRefs": [{"name": "opaque-cert"}]}}]
    await create(client, GW, https)
    controller = Controller(client, SnapshotCache(), LoopbackInfra("127.0.0.11"))
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.wait_synced(), 20)
        await asyncio.wait_for(controller.wait_idle(), 20)
        assert controller.informers["Secret"].objects() == ()
        live = dict(await client.get(resource_class(GW), "secure", namespace="default"))
        [listener] = live["status"]["listeners"]
        resolved = next(c for c in listener["conditions"] if c["type"] == "ResolvedRefs")
        assert (resolved["status"], resolved["reason"]) == ("False", "InvalidCertificateRef")
        assert "type kubernetes.io/tls" in resolved["message"]
    finally:
        await stop(task)


async def test_opaque_secrets_reach_the_translation_only_when_a_security_policy_names_them(
        client: KubeClient) -> None:
    users = base64.b64encode(b"user1:{SHA}tESsBmE/yNY3lb6a0L6vVQEZNqw=\n").decode()
    for name, type_ in (("users", "Opaque"), ("unrelated", "Opaque"),
                        ("token", "kubernetes.io/service-account-token")):
        await create(client, by_kind("Secret"), {
            "apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": "default"}, "data": {".htpasswd": users}})
    await create(client, by_kind("SecurityPolicy", ENVOY_GATEWAY_GROUP), {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
        "metadata": {"name": "auth", "namespace": "default"},
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                 "name": "app"}],
                 "basicAuth": {"users": {"name": "users"}}}})
    controller = Controller(client, SnapshotCache(), LoopbackInfra("127.0.0.12"))
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.wait_synced(), 20)
        await asyncio.wait_for(controller.wait_idle(), 20)
        secrets = controller.snapshot().objects["Secret"]
        assert [s["metadata"]["name"] for s in secrets] == ["users"]
    finally:
        await stop(task)
