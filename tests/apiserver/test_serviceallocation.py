"""Cluster IPs and node ports: distinct, the lowest free first, freed by a delete, and known
again after a restart (the registry keeps the numbers in use in memory and learns them from
storage); IP families, type changes and refusals as kube-apiserver's Service storage does them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver.errors import APIError
from propylon.apiserver.events import EventHub
from propylon.apiserver.registry import Registry
from propylon.apiserver.storage import Storage

SERVICE = by_kind("Service", "")


def registry(path: Path) -> Registry:
    storage = Storage(path / "state.db")
    return Registry(storage, EventHub(100, storage.resource_version), None)


async def create(reg: Registry, name: str, ip: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if ip:
        spec["clusterIP"] = ip
    obj, _ = await reg.create(SERVICE, "default", {"metadata": {"name": name}, "spec": spec},
                              {}, "Strict")
    return obj


async def test_lowest_free_address_first_and_reused_after_delete(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    ips = [(await create(reg, f"s{i}"))["spec"]["clusterIP"] for i in range(3)]
    assert ips == ["10.96.0.2", "10.96.0.3", "10.96.0.4"]
    await create(reg, "fixed", "10.96.0.5")  # chosen by the user: not handed out again
    await reg.delete(SERVICE, "default", "s1", None, {})
    assert (await create(reg, "again"))["spec"]["clusterIP"] == "10.96.0.3"
    assert (await create(reg, "next"))["spec"]["clusterIP"] == "10.96.0.6"
    dry, _ = await reg.create(SERVICE, "default", {"metadata": {"name": "dry"}, "spec": {}},
                              {"dryRun": "All"}, "Strict")
    assert dry["spec"]["clusterIP"] == "10.96.0.7"
    assert (await create(reg, "after-dry-run"))["spec"]["clusterIP"] == "10.96.0.7"
    reg.storage.close()

    restarted = registry(tmp_path)
    assert (await create(restarted, "later"))["spec"]["clusterIP"] == "10.96.0.8"
    restarted.storage.close()


async def test_deleting_a_namespace_frees_its_addresses(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    await reg.seed_namespace("team")
    obj, _ = await reg.create(SERVICE, "team", {"metadata": {"name": "a"}, "spec": {}}, {},
                              "Strict")
    assert obj["spec"]["clusterIP"] == "10.96.0.2"
    await reg.delete(by_kind("Namespace", ""), "", "team", None, {})
    assert (await create(reg, "b"))["spec"]["clusterIP"] == "10.96.0.2"
    reg.storage.close()


async def put(reg: Registry, name: str, spec: dict[str, Any], namespace: str = "default"
              ) -> dict[str, Any]:
    """Create the Service, or replace it (without resourceVersion, as `kubectl replace`)."""
    body = {"metadata": {"name": name}, "spec": spec}
    if reg.storage.get("services", namespace, name) is None:
        obj, _ = await reg.create(SERVICE, namespace, body, {}, "Strict")
    else:
        obj, _ = await reg.update(SERVICE, namespace, name, body, {}, "Strict", False)
    return obj


def node_ports(svc: dict[str, Any]) -> list[int]:
    return [p["nodePort"] for p in svc["spec"]["ports"]]


async def test_node_ports_lowest_free_shared_by_port_number_kept_and_freed(tmp_path: Path
                                                                           ) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    dns = await put(reg, "dns", {"type": "NodePort", "ports": [
        {"name": "udp", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53},
        {"name": "metrics", "port": 9153}]})
    assert node_ports(dns) == [30000, 30000, 30001]  # one node port per port number
    lb = await put(reg, "lb", {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                               "ports": [{"name": "http", "port": 80}]})
    assert node_ports(lb) == [30002]
    assert lb["spec"]["healthCheckNodePort"] == 30003
    # a replace that leaves them out keeps them (matched by port name), a new port gets one
    lb = await put(reg, "lb", {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                               "ports": [{"name": "https", "port": 443},
                                         {"name": "http", "port": 80}]})
    assert node_ports(lb) == [30004, 30002]
    assert lb["spec"]["healthCheckNodePort"] == 30003
    # Cluster traffic policy needs no health check port, ClusterIP no node ports: both freed
    lb = await put(reg, "lb", {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]})
    assert "healthCheckNodePort" not in lb["spec"] and "nodePort" not in lb["spec"]["ports"][0]
    assert node_ports(await put(reg, "again", {"type": "NodePort", "ports": [
        {"port": 80}, {"port": 81}]})) == [30002, 30003]
    await reg.delete(SERVICE, "default", "dns", None, {})
    reg.storage.close()

    restarted = registry(tmp_path)
    assert node_ports(await put(restarted, "later", {"type": "NodePort", "ports": [
        {"port": 80}]})) == [30000]
    with pytest.raises(APIError) as err:
        await put(restarted, "clash", {"type": "NodePort", "ports": [
            {"port": 80, "nodePort": 30003}]})
    assert err.value.code == 422
    assert err.value.message == ('Service "clash" is invalid: spec.ports[0].nodePort: Invalid '
                                 "value: 30003: provided port is already allocated")
    # a LoadBalancer that allocates none keeps what it asks for and gets no other
    bare = await put(restarted, "bare", {"type": "LoadBalancer",
                                         "allocateLoadBalancerNodePorts": False,
                                         "ports": [{"port": 80}, {"port": 81, "nodePort": 32000}]})
    assert [p.get("nodePort") for p in bare["spec"]["ports"]] == [None, 32000]
    restarted.storage.close()


async def test_cluster_ip_families_headless_external_name_and_a_taken_address(tmp_path: Path
                                                                                ) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    plain = await create(reg, "plain")
    assert {k: plain["spec"][k] for k in ("clusterIPs", "ipFamilies", "ipFamilyPolicy")} == {
        "clusterIPs": ["10.96.0.2"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
    headless = await put(reg, "headless", {"clusterIP": "None", "selector": {"app": "a"}})
    assert (headless["spec"]["clusterIPs"], headless["spec"]["ipFamilyPolicy"]) == (
        ["None"], "SingleStack")
    # headless without selector: dual stack required, both families
    bare = await put(reg, "bare", {"clusterIP": "None"})
    assert (bare["spec"]["ipFamilyPolicy"], bare["spec"]["ipFamilies"]) == (
        "RequireDualStack", ["IPv4", "IPv6"])
    external = await put(reg, "plain", {"type": "ExternalName", "externalName": "example.com"})
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(external["spec"])
    assert (await create(reg, "reuses"))["spec"]["clusterIP"] == "10.96.0.2"  # freed
    with pytest.raises(APIError) as err:
        await create(reg, "clash", "10.96.0.2")
    assert err.value.message == ('Service "clash" is invalid: spec.clusterIPs: Invalid value: '
                                 '["10.96.0.2"]: failed to allocate IP 10.96.0.2: provided IP is '
                                 "already allocated")
    reg.storage.close()
