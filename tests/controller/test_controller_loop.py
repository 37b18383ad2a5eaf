"""The reconcile loop with a small stand-in translator, against the embedded API server.

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

from propylon.api.kinds import by_kind
from propylon.client import resource_class
from propylon.controller.reconciler import Controller
from propylon.ir.model import GatewayIR, GatewayKey, InfraIR, InfraListener
from propylon.translate.types import Result, Snapshot, StatusUpdate
from tests.controller.conftest import Api
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
async def running(api: Api) -> AsyncIterator[tuple[Controller, RecordingCache, LoopbackInfra]]:
    cache, infra = RecordingCache(), LoopbackInfra()
    controller = Controller(api.client, cache, infra, translate_fn=toy_translate)
    task = asyncio.create_task(controller.run())
    await asyncio.wait_for(controller.wait_synced(), 20)
    yield controller, cache, infra
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def stored(api: Api, name: str) -> dict[str, Any]:
    return await api.client.get(resource_class(by_kind("Gateway")), name, namespace="default")


async def programmed(api: Api, name: str) -> bool:
    status = (await stored(api, name)).get("status") or {}
    return any(c["type"] == "Programmed" and c["status"] == "True"
               for c in status.get("conditions", [])) and bool(status.get("addresses"))


async def test_gateway_is_provisioned_published_and_programmed(api: Api, running: Any) -> None:
    controller, cache, infra = running
    await api.put(gateway("gw"))
    await eventually(lambda: programmed(api, "gw"), "Programmed=True with an address")
    assert "default/gw" in cache.nodes
    assert GatewayKey("default", "gw") in infra.applied[-1]
    assert (await stored(api, "gw"))["status"]["addresses"][0]["value"] == "127.0.0.10"

    await api.delete(gateway("gw"))
    await eventually(lambda: "default/gw" not in cache.nodes, "the node to be removed")
    await asyncio.wait_for(controller.wait_idle(), 20)
    assert infra.applied[-1] == {}


async def test_translator_exception_keeps_last_config_and_loop_alive(
        api: Api, running: Any) -> None:
    controller, cache, infra = running
    await api.put(gateway("gw"))
    await eventually(lambda: programmed(api, "gw"), "the first configuration")
    published = cache.nodes["default/gw"]

    await api.put(gateway("gw", labels={"explode": "yes"}))
    await eventually(lambda: controller.failures >= 1, "the failed translation")
    assert cache.nodes["default/gw"] is published

    await api.put(gateway("gw", port=8080))
    await eventually(lambda: infra.applied[-1][GatewayKey("default", "gw")].listeners[0].port
                     == 8080, "a reconcile after the failure")


async def test_unchanged_ir_is_not_published_again(api: Api, running: Any) -> None:
    controller, cache, _ = running
    await api.put(gateway("gw"))
    await eventually(lambda: programmed(api, "gw"), "the first configuration")
    await asyncio.wait_for(controller.wait_idle(), 20)
    sets, passes = cache.sets, controller.reconciles
    await api.put(gateway("gw", labels={"unrelated": "change"}))
    await eventually(lambda: controller.reconciles > passes, "a reconcile of the change")
    await asyncio.wait_for(controller.wait_idle(), 20)
    assert cache.sets == sets
