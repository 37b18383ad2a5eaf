"""409 Conflict on status writes: another writer changes the Gateway between the controller's
read and its write, several times in a row; the controller reads again, retries, and the status
ends right without undoing the other writer's change.

The controller (with `KubernetesInfra`) runs in-process against the embedded API server; its
client is a real lightkube client whose `replace` (the status writes) first lets a rival client
annotate the same Gateway, which moves its resourceVersion on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from propylon.apiserver import APIServer
from propylon.client import (
    KubeClient,
    KubeError,
    PatchType,
    load_client,
    load_kubeconfig,
)
from propylon.controller.reconciler import Controller
from tests.k8s.test_kept_infrastructure import (
    CLASS,
    GATEWAY,
    controller_running,
    gateway_class,
    http_gateway,
    server,
)

__all__ = ["server"]  # the fixture
RACES = 3


class RacingClient(KubeClient):
    """Before each of its first `races` Gateway replaces, `rival` annotates that Gateway."""

    def __init__(self, kubeconfig: Path, rival: KubeClient, races: int) -> None:
        super().__init__(load_kubeconfig(kubeconfig))
        self.rival = rival
        self.races = races
        self.conflicts = 0

    async def replace(self, obj: Any, name: str | None = None, *,
                      namespace: str | None = None) -> dict[str, Any]:
        if dict(obj).get("kind") == "Gateway" and self.races:
            self.races -= 1
            await self.rival.patch(GATEWAY, name, {"metadata": {"annotations": {
                "rival": str(self.races)}}}, namespace=namespace, patch_type=PatchType.MERGE)
        try:
            return await super().replace(obj, name, namespace=namespace)
        except KubeError as err:
            self.conflicts += err.code == 409
            raise


async def settled(controller: Controller, client: RacingClient) -> None:
    """Return once every race was run, a status was written and nothing is pending."""
    while client.races or not controller.status.writes:
        await controller.wait_idle()
        await asyncio.sleep(0.05)
    await controller.wait_idle()


async def test_status_is_right_after_conflicting_writes(server: APIServer) -> None:
    rival = load_client(server.kubeconfig_path)
    client = RacingClient(server.kubeconfig_path, rival, RACES)
    async with controller_running(client) as (controller, _):
        await rival.create(CLASS(gateway_class()))
        await rival.create(GATEWAY(http_gateway()))
        await asyncio.wait_for(controller.wait_synced(), 30)
        await asyncio.wait_for(settled(controller, client), 60)
    live = dict(await rival.get(GATEWAY, "gw", namespace="default"))
    await client.close()
    await rival.close()
    assert client.conflicts >= RACES
    assert live["metadata"]["annotations"]["rival"] == "0"
    accepted = next(c for c in live["status"]["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["observedGeneration"]) == \
        ("True", live["metadata"]["generation"])
    [listener] = live["status"]["listeners"]
    assert listener["name"] == "http"
