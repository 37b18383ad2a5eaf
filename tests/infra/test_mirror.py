"""MirroredInfra against the embedded API server: the Pod and Service of each Gateway's Envoy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver.printers import printer_for
from propylon.client import KubeClient, KubeError, resource_class
from propylon.infra.host.host_objects import PID_ANNOTATION, Exit, Process, object_name
from propylon.infra.host.mirror import MirroredInfra
from propylon.infra.labels import label_value
from propylon.ir.model import GatewayKey, InfraIR, InfraListener, InfraState, PortState

KEY = GatewayKey("default", "api-gateway")
NAME = object_name(KEY)
SELECTOR = {"gateway.networking.k8s.io/gateway-name": "api-gateway"}


class FakeHost:
    """Processes that exist as data: each Gateway gets 127.0.10.1, pid 4242 and readiness
    as the test sets it."""

    def __init__(self) -> None:
        self.ready = False
        self.envoy = Process(4242, "/usr/bin/envoy")
        self._states: dict[GatewayKey, InfraState] = {}

    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        self._states = {key: InfraState(key, "127.0.10.1", tuple(
            PortState(li.port, li.port + 10000) for li in ir.listeners), ready=self.ready,
            message="" if self.ready else "Envoy (pid 4242) is starting")
            for key, ir in wanted.items()}

    def states(self) -> Mapping[GatewayKey, InfraState]:
        return self._states

    def subscribe(self, callback: Callable[[], None]) -> None:
        pass

    def process(self, key: GatewayKey) -> Process:
        return self.envoy

    async def close(self, stop_proxies: bool = True) -> None:
        pass


async def create_gateway(kube_client: KubeClient, name: str = "api-gateway") -> str:
    gw = await kube_client.create(resource_class(by_kind("Gateway"))({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"gatewayClassName": "propylon",
                 "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}))
    return str(dict(gw)["metadata"]["uid"])


def infra_ir(key: GatewayKey = KEY) -> InfraIR:
    return InfraIR(key, "propylon", (InfraListener("http", 80, "HTTP"),),
                   labels=(("team", "edge"),), annotations=(("example.dev/owner", "ops"),))


async def labelled(kube_client: KubeClient, kind: str,
                   labels: Mapping[str, str] = SELECTOR) -> list[dict[str, Any]]:
    listing = await kube_client.list(resource_class(by_kind(kind)), namespace="default",
                                     labels=dict(labels))
    return listing.items


async def test_pod_and_service_show_the_envoy_with_infrastructure_metadata(
        kube_client: KubeClient) -> None:
    uid = await create_gateway(kube_client)
    host = FakeHost()
    infra = MirroredInfra(host, kube_client)
    await infra.apply({KEY: infra_ir()})

    [pod] = await labelled(kube_client, "Pod")
    assert pod["metadata"]["name"] == NAME and NAME.startswith("api-gateway-envoy-")
    assert pod["metadata"]["labels"]["team"] == "edge"
    assert pod["metadata"]["annotations"] == {"example.dev/owner": "ops", PID_ANNOTATION: "4242"}
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
    assert pod["spec"]["containers"][0]["ports"][0]["containerPort"] == 10080
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "127.0.10.1"
    ready = {c["type"]: c for c in pod["status"]["conditions"]}["Ready"]
    assert ready["status"] == "False" and "starting" in ready["message"]

    [svc] = await labelled(kube_client, "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, 10080)]
    # the API server fills ipMode as kube-apiserver does
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.10.1", "ipMode": "VIP"}]
    assert svc["metadata"]["labels"]["team"] == "edge"
    assert svc["metadata"]["annotations"] == {"example.dev/owner": "ops"}

    host.ready = True
    await infra.apply({KEY: infra_ir()})
    [pod] = await labelled(kube_client, "Pod")
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]} == {
        "Ready": "True", "ContainersReady": "True"}


async def test_pod_shows_ready_and_restarts_as_kubectl_get_pods_prints_them(
        kube_client: KubeClient) -> None:
    await create_gateway(kube_client)
    host = FakeHost()
    infra = MirroredInfra(host, kube_client)
    pod_printer = printer_for("", "Pod")
    assert pod_printer is not None
    now = datetime.now(UTC)

    await infra.apply({KEY: infra_ir()})
    [pod] = await labelled(kube_client, "Pod")
    assert pod_printer.cells(pod, now)[1:4] == ["0/1", "Running", "0"]

    host.ready = True
    host.envoy = Process(4343, "/usr/bin/envoy", restarts=2, last_exit=Exit(
        (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ"), 137))
    await infra.apply({KEY: infra_ir()})
    [pod] = await labelled(kube_client, "Pod")
    assert pod_printer.cells(pod, now)[1:4] == ["1/1", "Running", "2 (10d ago)"]
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 137


async def test_unchanged_objects_are_not_written_again(kube_client: KubeClient) -> None:
    await create_gateway(kube_client)
    infra = MirroredInfra(FakeHost(), kube_client)
    await infra.apply({KEY: infra_ir()})
    [before] = await labelled(kube_client, "Pod")
    await infra.apply({KEY: infra_ir()})
    [after] = await labelled(kube_client, "Pod")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def test_objects_go_with_their_gateway_and_foreign_objects_stay(
        kube_client: KubeClient) -> None:
    await create_gateway(kube_client)
    other = GatewayKey("default", "other")
    await create_gateway(kube_client, "other")
    foreign = {"apiVersion": "v1", "kind": "Pod",  # Propylon's labels but no owner
               "metadata": {"name": "lookalike", "namespace": "default",
                            "labels": {**SELECTOR, "app.kubernetes.io/managed-by": "propylon"}},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await kube_client.create(resource_class(by_kind("Pod"))(foreign))
    infra = MirroredInfra(FakeHost(), kube_client)
    await infra.apply({KEY: infra_ir(), other: infra_ir(other)})

    await infra.apply({other: infra_ir(other)})
    assert [p["metadata"]["name"] for p in await labelled(kube_client, "Pod")] == ["lookalike"]
    assert await labelled(kube_client, "Service") == []

    restarted = MirroredInfra(FakeHost(), kube_client)  # a new run: leftovers of gone Gateways go
    await restarted.apply({})
    with pytest.raises(KubeError):
        await kube_client.get(resource_class(by_kind("Pod")), object_name(other),
                              namespace="default")
    assert [p["metadata"]["name"] for p in await labelled(kube_client, "Pod")] == ["lookalike"]


async def test_a_gateway_name_too_long_for_a_label_is_shown_and_removed(
        kube_client: KubeClient) -> None:
    name = "gateway-name-maximum-length-" + "a" * 225  # 253 characters, a valid Gateway name
    key = GatewayKey("default", name)
    await create_gateway(kube_client, name)
    infra = MirroredInfra(FakeHost(), kube_client)
    await infra.apply({key: infra_ir(key)})

    label = label_value(name)
    assert len(label) == 63 and label != label_value(name[:-1] + "b")
    [pod] = await labelled(kube_client, "Pod", {"gateway.networking.k8s.io/gateway-name": label})
    [svc] = await labelled(kube_client, "Service",
                           {"gateway.networking.k8s.io/gateway-name": label})
    assert pod["metadata"]["ownerReferences"][0]["name"] == name
    assert svc["metadata"]["ownerReferences"][0]["name"] == name

    restarted = MirroredInfra(FakeHost(), kube_client)  # leftovers are found by their owner
    await restarted.apply({})
    assert await labelled(kube_client, "Pod", {"gateway.networking.k8s.io/gateway-name": label}) == []
