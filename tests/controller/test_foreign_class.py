"""A GatewayClass of another controller, against the embedded API server: the controller says so
once in its log and leaves it "Waiting for controller"; its own class gets its status over the
CRD's default conditions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver import APIServer
from propylon.client import KubeClient, PatchType, load_client, resource_class
from propylon.controller.reconciler import Controller
from propylon.translate.types import DEFAULT_CONTROLLER_NAME
from propylon.xds.server import SnapshotCache
from tests.controller.infra_double import LoopbackInfra

CLASS = by_kind("GatewayClass")
GW = by_kind("Gateway")
EG = "gateway.envoyproxy.io/gatewayclass-controller"
WAITING = {"lastTransitionTime": "1970-01-01T00:00:00Z", "message": "Waiting for controller",
           "reason": "Pending", "status": "Unknown"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[KubeClient]:
    server = APIServer(tmp_path / "api")
    await server.start()
    c = load_client(server.kubeconfig_path)
    yield c
    await c.close()
    await server.stop()


def gateway_class(name: str, controller: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": name}, "spec": {"controllerName": controller}}


def gateway(name: str, cls: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"gatewayClassName": cls,
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def notes(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.getMessage().startswith(f'GatewayClass "{name}" names controllerName')]


async def status(client: KubeClient, kind: Any, name: str, namespace: str | None = None
                 ) -> dict[str, Any]:
    obj = dict(await client.get(resource_class(kind), name, namespace=namespace))
    return dict(obj.get("status") or {})


async def test_foreign_class_is_noted_once_and_keeps_the_default_status(
        client: KubeClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="propylon.controller.reconciler")
    controller = Controller(client, SnapshotCache(), LoopbackInfra("127.0.0.12"))
    task = asyncio.create_task(controller.run())
    try:
        for obj in (gateway_class("propylon", DEFAULT_CONTROLLER_NAME), gateway_class("eg", EG)):
            await client.create(resource_class(CLASS)(obj))
        await client.create(resource_class(GW)(gateway("eg-gw", "eg")))
        await asyncio.wait_for(controller.wait_idle(), 20)
        passes = controller.reconciles
        # more passes (a new Gateway of ours, a label on the foreign class): still one line
        await client.create(resource_class(GW)(gateway("ours", "propylon")))
        await client.patch(resource_class(CLASS), "eg", {"metadata": {"labels": {"a": "b"}}},
                           patch_type=PatchType.MERGE)
        await asyncio.wait_for(controller.wait_idle(), 20)
        assert controller.reconciles > passes
        [line] = notes(caplog, "eg")
        assert f'"{EG}"' in line and f'"{DEFAULT_CONTROLLER_NAME}"' in line
        assert f"--controller-name {EG}" in line
        assert f"spec.controllerName: {DEFAULT_CONTROLLER_NAME}" in line
        assert notes(caplog, "propylon") == []

        assert await status(client, CLASS, "eg") == {"conditions": [{**WAITING,
                                                                      "type": "Accepted"}]}
        assert (await status(client, GW, "eg-gw", "default"))["conditions"] == [
            {**WAITING, "type": "Accepted"}, {**WAITING, "type": "Programmed"}]
        # ours: the controller's conditions replace the defaults, matched by type
        ours = (await status(client, CLASS, "propylon"))["conditions"]
        assert [c["type"] for c in ours] == ["Accepted", "SupportedVersion"]
        assert ours[0]["status"] == "True"
        assert ours[0]["lastTransitionTime"] != WAITING["lastTransitionTime"]
        # a class that changes to another controller is noted again
        await client.delete(resource_class(CLASS), "eg")
        await client.create(resource_class(CLASS)(gateway_class("eg", "example.com/other")))
        await asyncio.wait_for(controller.wait_idle(), 20)
        assert len(notes(caplog, "eg")) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
