"""The proxy objects of one Gateway: names, owners, labels, ports and the bootstrap."""

from __future__ import annotations

import json

from propylon.infra.k8s_resources import (NAME_LABEL, Owner, ProxyOptions, container_port,
                                          gateway_objects, object_name)
from propylon.infra.kubernetes import lb_address
from propylon.ir.model import GatewayKey, InfraIR, InfraListener

KEY = GatewayKey("apps", "web")
IR = InfraIR(KEY, "propylon",
             (InfraListener("http", 80, "HTTP"), InfraListener("alt", 80, "HTTP"),
              InfraListener("https", 8443, "HTTPS")),
             requested_addresses=("192.0.2.10",),
             labels=(("team", "edge"),), annotations=(("example.dev/note", "hi"),))
OWNER = Owner("gateway.networking.k8s.io/v1", "web", "uid-1")


def objects() -> dict[str, dict]:
    return {o["kind"]: o for o in gateway_objects(IR, OWNER, "xds.example", 18000,
                                                  ProxyOptions(image="envoy:test"))}


def test_every_object_is_owned_labelled_and_annotated() -> None:
    objs = objects()
    assert sorted(objs) == ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    for obj in objs.values():
        meta = obj["metadata"]
        assert (meta["name"], meta["namespace"]) == ("propylon-web", "apps")
        assert meta["ownerReferences"] == [{
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "web",
            "uid": "uid-1", "controller": True, "blockOwnerDeletion": True}]
        assert meta["labels"]["team"] == "edge" and meta["labels"][NAME_LABEL] == "web"
        assert meta["annotations"] == {"example.dev/note": "hi"}


def test_privileged_ports_move_up_and_the_service_maps_them_back() -> None:
    objs = objects()
    service = objs["Service"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["externalIPs"] == ["192.0.2.10"]
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(80, 10080),
                                                                        (8443, 8443)]
    [container] = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "envoy:test"
    assert [p["containerPort"] for p in container["ports"]] == [10080, 8443]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container_port(1023, 10000) == 11023 and container_port(1024, 10000) == 1024


def test_bootstrap_names_the_gateway_and_the_xds_service() -> None:
    config = json.loads(objects()["ConfigMap"]["data"]["envoy.json"])
    assert config["node"]["id"] == "apps/web"
    xds = config["static_resources"]["clusters"][0]
    assert xds["type"] == "STRICT_DNS"
    assert xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] == {
        "socket_address": {"address": "xds.example", "port_value": 18000}}


def test_long_names_fit_a_dns_label() -> None:
    name = object_name(GatewayKey("ns", "g" * 70))
    assert len(name) <= 63 and name != object_name(GatewayKey("other", "g" * 70))


def test_load_balancer_address_prefers_ip_then_hostname() -> None:
    assert lb_address(None) is None
    assert lb_address({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}}) \
        == "lb.example"
    assert lb_address({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}}) \
        == "203.0.113.5"
