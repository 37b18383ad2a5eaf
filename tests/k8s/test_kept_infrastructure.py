"""Proxies in the Gateway's status: a Gateway whose proxy pods cannot be created says why; a
listener on a port the proxy pod holds for itself is refused; a Gateway that stops being
Accepted keeps its proxies (Deployment, Service and the address the load balancer gave it: the
same Service object), its status says why, and only moving it to another class (or deleting it)
removes them. The controller (with `KubernetesInfra`) runs in-process against the embedded API
server playing the cluster; kubectl plays the Deployment controller."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver import APIServer
from propylon.client import KubeClient, KubeError, PatchType, load_client, resource_class
from propylon.controller.reconciler import Controller
from propylon.infra.kubernetes.manager import KubernetesInfra
from propylon.translate.types import DEFAULT_CONTROLLER_NAME
from propylon.xds.server import SnapshotCache

GATEWAY = resource_class(by_kind("Gateway"))
CLASS = resource_class(by_kind("GatewayClass"))
DEPLOYMENT = resource_class(by_kind("Deployment"))
SERVICE = resource_class(by_kind("Service"))
NAME = "propylon-gw"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "api")
    await srv.start()
    yield srv
    await srv.stop()


@contextlib.asynccontextmanager
async def controller_running(client: KubeClient, **infra_options: Any,
                             ) -> AsyncIterator[tuple[Controller, KubernetesInfra]]:
    """The controller, with `KubernetesInfra` (given `infra_options`), running in-process on
    `client` for the block; then stopped and its infrastructure closed."""
    infra = KubernetesInfra(client, "127.0.0.1", 18000, **infra_options)
    controller = Controller(client, SnapshotCache(), infra)
    task = asyncio.create_task(controller.run())
    try:
        yield controller, infra
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await infra.close()


def gateway_class(name: str = "propylon",
                  controller_name: str = DEFAULT_CONTROLLER_NAME) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": name}, "spec": {"controllerName": controller_name}}


def http_gateway(*ports: tuple[str, int]) -> dict[str, Any]:
    """Gateway default/gw of class propylon with an HTTP listener per (name, port)."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default"},
            "spec": {"gatewayClassName": "propylon",
                     "listeners": [{"name": n, "port": p, "protocol": "HTTP"}
                                   for n, p in ports or (("http", 80),)]}}


async def until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    async def loop() -> Any:
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found
    try:
        return await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def get(client: KubeClient, res: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(await client.get(res, name, namespace="default"))
    except KubeError as err:
        if err.code == 404:
            return None
        raise


def condition(gateway: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    conditions = ((gateway or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def accepted(gateway: dict[str, Any] | None) -> dict[str, Any]:
    return condition(gateway, "Accepted")


async def kubectl(server: APIServer, *args: str) -> None:
    """kubectl, off the event loop (the API server runs on it)."""
    await asyncio.to_thread(subprocess.run, [
        str(Path(sys.executable).parent / "kubectl"), "--kubeconfig",
        str(server.kubeconfig_path), *args], check=True, capture_output=True, timeout=60)


async def test_a_gateway_that_stops_being_accepted_keeps_its_proxies_and_address(
        server: APIServer) -> None:
    client = load_client(server.kubeconfig_path)
    async with controller_running(client) as (controller, infra):
        await client.create(CLASS(gateway_class()))
        await client.create(CLASS(gateway_class("other", "example.com/other")))
        await client.create(GATEWAY(http_gateway(("http", 80), ("metrics", 19001))))
        deployment = await until("the proxy Deployment", lambda: get(client, DEPLOYMENT, NAME))
        service = await until("the proxy Service", lambda: get(client, SERVICE, NAME))
        assert [p["port"] for p in service["spec"]["ports"]] == [80]
        await kubectl(server, "patch", "service", NAME, "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}}))

        async def listener_refused() -> dict[str, Any] | None:
            gateway = await get(client, GATEWAY, "gw")
            for listener in ((gateway or {}).get("status") or {}).get("listeners") or []:
                programmed = next(c for c in listener["conditions"] if c["type"] == "Programmed")
                if listener["name"] == "metrics" and programmed.get("status") == "False" \
                        and "19001" in programmed.get("message", ""):
                    return programmed
            return None
        refused = await until("the listener on 19001 refused", listener_refused)
        assert "serves the proxy's metrics on port 19001; use another port" in refused["message"]

        # the ReplicaSet cannot create pods: the Gateway says why
        failure = 'pods "propylon-gw-7d4" is forbidden: violates PodSecurity "restricted:latest"'
        await kubectl(server, "patch", "deployment", NAME, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": {"replicas": 0, "conditions": [
                    {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                     "message": failure}]}}))

        async def says_why() -> bool:
            message = condition(await get(client, GATEWAY, "gw"), "Programmed").get("message")
            return f"FailedCreate: {failure}" in (message or "")
        await until("Programmed naming the failure", says_why)

        # its parameters go missing: not Accepted, and nothing of its infrastructure goes
        await client.patch(GATEWAY, "gw", {"spec": {"infrastructure": {"parametersRef": {
            "group": "propylon.dev", "kind": "GatewayParameters", "name": "gone"}}}},
            namespace="default", patch_type=PatchType.MERGE)
        gateway = await until("Accepted False", lambda: _rejected(client))
        assert accepted(gateway)["reason"] == "InvalidParameters"
        assert "gone" in accepted(gateway)["message"]
        await controller.wait_idle()
        kept_deployment = await get(client, DEPLOYMENT, NAME)
        kept_service = await get(client, SERVICE, NAME)
        assert kept_deployment is not None and kept_service is not None
        assert kept_deployment["metadata"]["uid"] == deployment["metadata"]["uid"]
        assert kept_service["metadata"]["uid"] == service["metadata"]["uid"]
        assert kept_service["status"]["loadBalancer"]["ingress"][0]["ip"] == "192.0.2.7"

        # a controller started again (leader change) keeps them too
        infra.set_leader(False)
        infra.set_leader(True)
        await controller.wait_idle()
        assert (await get(client, SERVICE, NAME) or {}).get("metadata", {}).get("uid") == \
            service["metadata"]["uid"]

        # moved to another controller's class: the proxies go
        await client.patch(GATEWAY, "gw", {"spec": {"gatewayClassName": "other"}},
                           namespace="default", patch_type=PatchType.MERGE)
        await until("the Deployment deleted",
                    lambda: _absent(client, DEPLOYMENT, NAME))
        await until("the Service deleted", lambda: _absent(client, SERVICE, NAME))
    await client.close()


async def _rejected(client: KubeClient) -> dict[str, Any] | None:
    gateway = await get(client, GATEWAY, "gw")
    return gateway if accepted(gateway).get("status") == "False" else None


async def _absent(client: KubeClient, res: Any, name: str) -> bool:
    return await get(client, res, name) is None
