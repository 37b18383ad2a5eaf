"""The reconcile loop with a small stand-in translator, against the failure-injecting fake API.

The stand-in maps each Gateway to an InfraIR and a GatewayIR and writes Programmed from the
infrastructure state, which is enough to check the loop's own promises: infrastructure state
flows back into status, configuration is published per node and removed with its Gateway, and a
translator that raises leaves the last good configuration in place without stopping the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from propylon.client import KubeClient
from propylon.controller.reconciler import Controller
from propylon.ir.model import GatewayIR, GatewayKey, InfraIR, InfraListener
from propylon.translate.types import Result, Snapshot, StatusUpdate
from tests.controller.fakeapi import FakeAPI
from tests.controller.helpers import JSONStatus, eventually
from tests.controller.infra_double import LoopbackInfra


def toy_translate(snapshot: Snapshot) -> Result:
    gateways: dict[GatewayKey, GatewayIR] = {}
    infra: dict[GatewayKey, InfraIR] = {}
    statuses = []
    for gw in snapshot.of("Gateway"):
        meta = gw["metadata"]
        if "explode" in (meta.get("labels") or {}):
            raise RuntimeError("translator bug")
        key = GatewayKey(meta["namespace"], meta["name"])
        ports = tuple(InfraListener(lst["name"], lst["port"], "HTTP")
                      for lst in gw["spec"].get("listeners", []))
        infra[key] = InfraIR(key, gw["spec"]["gatewayClassName"], ports)
        state = snapshot.infra.get(key)
        if state is not None:
            gateways[key] = GatewayIR(key, (), (), (), ())
        status: dict[str, Any] = {"conditions": [{
            "type": "Programmed", "status": "True" if state and state.ready else "False",
            "reason": "Programmed", "message": "", "observedGeneration": 1,
            "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        if state is not None and state.address:
            status["addresses"] = [{"type": "IPAddress", "value": state.address}]
        statuses.append(StatusUpdate(gw["apiVersion"], "Gateway", key.namespace, key.name, 1,
                                     JSONStatus(status)))
    return Result(tuple(statuses), gateways, infra)


class RecordingCache:
    def __init__(self) -> None:
        self.nodes: dict[str, Any] = {}
        self.sets = 0

    def set(self, node_id: str, resources: Any) -> None:
        self.nodes[node_id] = resources
        self.sets += 1

    def remove(self, node_id: str) -> None:
        del self.nodes[node_id]

    def rejections(self) -> dict[str, Any]:
        return {}

    def on_rejections(self, callback: Any) -> None:
        pass


def gateway(name: str, port: int = 80, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
            "spec": {"gatewayClassName": "propylon",
                     "listeners": [{"name": "http", "port": port, "protocol": "HTTP"}]}}


@pytest.fixture
async def running(fake: FakeAPI, fake_client: KubeClient
                  ) -> AsyncIterator[tuple[Controller, RecordingCache, LoopbackInfra]]:
    cache, infra = RecordingCache(), LoopbackInfra()
    controller = Controller(fake_client, cache, infra, translate_fn=toy_translate)
    task = asyncio.create_task(controller.run())
    await asyncio.wait_for(controller.wait_synced(), 20)
    yield controller, cache, infra
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def programmed(fake: FakeAPI, name: str) -> bool:
    obj = fake.objects.get(("gateways", "default", name), {})
    status = obj.get("status") or {}
    return any(c["type"] == "Programmed" and c["status"] == "True"
               for c in status.get("conditions", [])) and bool(status.get("addresses"))


async def test_gateway_is_provisioned_published_and_programmed(fake: FakeAPI, running: Any) -> None:
    controller, cache, infra = running
    fake.put("gateways", gateway("gw"))
    await eventually(lambda: programmed(fake, "gw"), "Programmed=True with an address")
    assert "default/gw" in cache.nodes
    assert GatewayKey("default", "gw") in infra.applied[-1]
    assert fake.objects[("gateways", "default", "gw")]["status"]["addresses"][0]["value"] \
        == "127.0.0.10"

    fake.delete("gateways", "default", "gw")
    await eventually(lambda: "default/gw" not in cache.nodes, "the node to be removed")
    await asyncio.wait_for(controller.wait_idle(), 20)
    assert infra.applied[-1] == {}


async def test_translator_exception_keeps_last_config_and_loop_alive(
        fake: FakeAPI, running: Any) -> None:
    controller, cache, infra = running
    fake.put("gateways", gateway("gw"))
    await eventually(lambda: programmed(fake, "gw"), "the first configuration")
    published = cache.nodes["default/gw"]

    fake.put("gateways", gateway("gw", labels={"explode": "yes"}))
    await eventually(lambda: controller.failures >= 1, "the failed translation")
    assert cache.nodes["default/gw"] is published

    fake.put("gateways", gateway("gw", port=8080))
    await eventually(lambda: infra.applied[-1][GatewayKey("default", "gw")].listeners[0].port
                     == 8080, "a reconcile after the failure")


async def test_unchanged_ir_is_not_published_again(fake: FakeAPI, running: Any) -> None:
    controller, cache, _ = running
    fake.put("gateways", gateway("gw"))
    await eventually(lambda: programmed(fake, "gw"), "the first configuration")
    await asyncio.wait_for(controller.wait_idle(), 20)
    sets, passes = cache.sets, controller.reconciles
    fake.put("gateways", gateway("gw", labels={"unrelated": "change"}))
    await eventually(lambda: controller.reconciles > passes, "a reconcile of the change")
    await asyncio.wait_for(controller.wait_idle(), 20)
    assert cache.sets == sets
