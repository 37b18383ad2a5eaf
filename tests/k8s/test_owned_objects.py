"""The controller writes only objects it owns: a same-named ConfigMap, HPA or Service that
someone else made, before the proxies exist or in place of one of them, is neither taken over
by server-side apply with force nor deleted; the Gateway's status names it and the fix, and
the proxies follow once it is gone. The
infrastructure's informers cache only the proxy objects (a label selector), the controller's
Service informer every Service (backends). The controller
(with `KubernetesInfra`) runs in-process against the embedded API server playing the cluster."""

from __future__ import annotations

from typing import Any

from propylon.api.kinds import by_kind
from propylon.apiserver import APIServer
from propylon.client import load_client, resource_class
from propylon.infra.kubernetes.ownership import foreign
from propylon.infra.labels import own_labels
from propylon.ir.model import GatewayKey
from tests.k8s.test_kept_infrastructure import (
    CLASS,
    DEPLOYMENT,
    GATEWAY,
    NAME,
    condition,
    controller_running,
    gateway_class,
    get,
    http_gateway,
    server,
    until,
)

__all__ = ["server"]  # the fixture
CONFIG_MAP = resource_class(by_kind("ConfigMap"))
SERVICE = resource_class(by_kind("Service"))
AUTOSCALER = resource_class(by_kind("HorizontalPodAutoscaler"))
KEY = GatewayKey("default", "gw")


def _meta(**extra: Any) -> dict[str, Any]:
    return {"name": NAME, "namespace": "default", **extra}


def test_only_the_gateways_own_objects_are_its() -> None:
    ours = {"kind": "Service", "metadata": _meta(ownerReferences=[
        {"kind": "Gateway", "name": "gw", "uid": "old", "controller": True}])}
    assert foreign(ours, KEY) is None
    assert foreign({"kind": "Service", "metadata": _meta(labels=own_labels(KEY))}, KEY) is None
    other_gateway = {"kind": "Service", "metadata": _meta(labels=own_labels(
        GatewayKey("default", "gw2")))}
    assert "Service default/propylon-gw already exists" in (foreign(other_gateway, KEY) or "")
    helm = {"kind": "Service", "metadata": _meta(labels=own_labels(KEY), ownerReferences=[
        {"kind": "HelmRelease", "name": "web", "uid": "1", "controller": True}])}
    assert "controlled by HelmRelease web" in (foreign(helm, KEY) or "")


async def test_a_same_named_object_someone_else_made_is_not_taken_over(
        server: APIServer) -> None:
    client = load_client(server.kubeconfig_path)
    mine = await client.create(CONFIG_MAP({"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": _meta(), "data": {"app": "settings"}}))
    hpa = await client.create(AUTOSCALER({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "name": "web"}, "minReplicas": 1, "maxReplicas": 3}}))
    await client.create(SERVICE({"apiVersion": "v1", "kind": "Service",
                                 "metadata": {"name": "web", "namespace": "default"},
                                 "spec": {"ports": [{"port": 80}]}}))
    async with controller_running(client, retry_s=0.2) as (controller, infra):
        await client.create(CLASS(gateway_class()))
        await client.create(GATEWAY(http_gateway()))

        async def refused() -> str | None:
            programmed = condition(await get(client, GATEWAY, "gw"), "Programmed")
            message = programmed.get("message") or ""
            return message if programmed.get("status") == "False" and \
                f"ConfigMap default/{NAME} already exists" in message else None
        message = await until("Programmed False naming the ConfigMap", refused)
        assert "delete or rename it, or rename the Gateway" in message
        await controller.wait_idle()
        kept = await get(client, CONFIG_MAP, NAME)
        assert kept is not None and kept["data"] == {"app": "settings"}
        assert kept["metadata"]["uid"] == mine["metadata"]["uid"]
        assert not kept["metadata"].get("ownerReferences")
        assert await get(client, DEPLOYMENT, NAME) is None

        # once the user's ConfigMap is gone, the proxies are created; the user's HPA (the
        # Gateway asks for no autoscaling) is still not deleted
        await client.delete(CONFIG_MAP, NAME, namespace="default")
        await until("the proxy Deployment", lambda: get(client, DEPLOYMENT, NAME))
        await controller.wait_idle()
        kept_hpa = await get(client, AUTOSCALER, NAME)
        assert kept_hpa is not None and kept_hpa["metadata"]["uid"] == hpa["metadata"]["uid"]
        # the infrastructure's informers hold the proxy objects only (a label selector)
        assert set(infra.informers["Service"].store) == {("default", NAME)}
        assert set(infra.informers["Deployment"].store) == {("default", NAME)}
        assert ("default", "web") in controller.informers["Service"].store  # a backend

        # the proxy Service replaced by someone else's of the same name: not taken over
        await client.delete(SERVICE, NAME, namespace="default")
        theirs = await client.create(SERVICE({"apiVersion": "v1", "kind": "Service",
                                              "metadata": _meta(), "spec": {"ports": [
                                                  {"name": "theirs", "port": 8080}]}}))

        async def service_refused() -> str | None:
            message = condition(await get(client, GATEWAY, "gw"), "Programmed").get("message")
            return message if f"Service default/{NAME} already exists" in (message or "") \
                else None
        await until("Programmed naming the Service", service_refused)
        await controller.wait_idle()
        now = await get(client, SERVICE, NAME)
        assert now is not None and now["metadata"]["uid"] == theirs["metadata"]["uid"]
        assert [p["name"] for p in now["spec"]["ports"]] == ["theirs"]
        assert not now["metadata"].get("ownerReferences")
    await client.close()
