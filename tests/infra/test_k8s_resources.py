"""The proxy objects of one Gateway: names, owners, labels, ports and the bootstrap."""

from __future__ import annotations

import json
from dataclasses import replace

from propylon.infra.kubernetes.manager import cluster_ip, lb_address
from propylon.infra.kubernetes.resources import (
    ProxyOptions,
    container_port,
    gateway_objects,
    object_name,
)
from propylon.infra.labels import NAME_LABEL, Owner
from propylon.ir.model import GatewayKey, InfraIR, InfraListener, ProxyParameters

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
    assert sorted(objs) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service",
                           "ServiceAccount"]
    for obj in objs.values():
        meta = obj["metadata"]
        assert (meta["name"], meta["namespace"]) == ("propylon-web", "apps")
        assert meta["ownerReferences"] == [{
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "web",
            "uid": "uid-1", "controller": True, "blockOwnerDeletion": True}]
        assert meta["labels"]["team"] == "edge" and meta["labels"][NAME_LABEL] == "web"
        class_note = {"propylon.dev/gateway-class": "propylon"} if obj["kind"] == "Deployment" \
            else {}
        assert meta["annotations"] == {"example.dev/note": "hi", **class_note}


def test_privileged_ports_move_up_and_the_service_maps_them_back() -> None:
    objs = objects()
    service = objs["Service"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["externalIPs"] == ["192.0.2.10"]
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(80, 10080),
                                                                        (8443, 8443)]
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "envoy:test"
    assert [p["containerPort"] for p in container["ports"]] == [10080, 8443, 19001, 19003]
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


def test_gateway_parameters_shape_the_deployment_and_the_service() -> None:
    params = ProxyParameters(
        image="envoy:custom", replicas=3, concurrency=2, service_type="NodePort",
        resources=json.dumps({"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}),
        node_selector=(("pool", "edge"),),
        tolerations=json.dumps([{"key": "edge", "operator": "Exists"}]),
        affinity=json.dumps({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution":
                                              []}}),
        pod_labels=(("team", "pods"), (NAME_LABEL, "spoofed")),
        pod_annotations=(("example.dev/scrape", "true"),))
    objs = {o["kind"]: o for o in gateway_objects(replace(IR, parameters=params), OWNER,
                                                  "xds.example", 18000,
                                                  ProxyOptions(image="envoy:test"))}
    deployment, service = objs["Deployment"], objs["Service"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "envoy:custom"
    assert container["resources"] == {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}
    assert container["args"][container["args"].index("--concurrency") + 1] == "2"
    assert pod["spec"]["nodeSelector"] == {"pool": "edge"}
    assert pod["spec"]["tolerations"] == [{"key": "edge", "operator": "Exists"}]
    assert "nodeAffinity" in pod["spec"]["affinity"]
    assert pod["metadata"]["labels"]["team"] == "pods"
    assert pod["metadata"]["labels"][NAME_LABEL] == "web"  # selector labels cannot be replaced
    assert pod["metadata"]["annotations"]["example.dev/scrape"] == "true"
    assert service["spec"]["type"] == "NodePort"
    assert "externalTrafficPolicy" not in service["spec"]


def test_without_parameters_the_options_apply() -> None:
    objs = objects()
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert objs["Deployment"]["spec"]["replicas"] == 2
    assert container["image"] == "envoy:test"
    assert container["resources"] == ProxyOptions().resources
    assert "--concurrency" not in container["args"]
    assert objs["Service"]["spec"]["type"] == "LoadBalancer"


def test_a_service_that_is_not_a_load_balancer_is_reached_on_its_cluster_ip() -> None:
    assert cluster_ip({"spec": {"type": "NodePort", "clusterIP": "10.0.0.7"}}) == "10.0.0.7"
    assert cluster_ip({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.8"}}) == "10.0.0.8"
    assert cluster_ip({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9"}}) is None
    assert cluster_ip({"spec": {"type": "ClusterIP", "clusterIP": "None"}}) is None
    assert cluster_ip(None) is None


def test_udp_listeners_get_udp_ports_beside_tcp_ports_of_the_same_number() -> None:
    ir = replace(IR, listeners=(InfraListener("dns-tcp", 53, "TCP"),
                                InfraListener("dns", 53, "UDP"),
                                InfraListener("game", 7000, "UDP")))
    objs = {o["kind"]: o for o in gateway_objects(ir, OWNER, "xds.example", 18000,
                                                  ProxyOptions(image="envoy:test"))}
    assert [(p["name"], p["port"], p["targetPort"], p["protocol"])
            for p in objs["Service"]["spec"]["ports"]] == [
        ("port-53", 53, 10053, "TCP"), ("udp-53", 53, 10053, "UDP"),
        ("udp-7000", 7000, 7000, "UDP")]
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert [(p["containerPort"], p["protocol"]) for p in container["ports"]] == [
        (10053, "TCP"), (10053, "UDP"), (7000, "UDP"), (19001, "TCP"), (19003, "TCP")]
