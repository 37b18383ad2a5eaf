"""The built-in kinds' Table cells, against kube-apiserver's own printer tests.

The objects and expected cells are those of kubernetes/pkg/printers/internalversion/
printers_test.go (TestPrintPod, TestPrintService, TestPrintReplicaSet's wide layout), written as
the JSON the API serves; objects without a creationTimestamp print AGE `<unknown>` there too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver.printers import format_selector, printer_for
from propylon.apiserver.table import column_definitions, to_table

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def cells(kind: str, obj: dict[str, Any], group: str = "") -> list[Any]:
    printer = printer_for(group, kind)
    assert printer is not None
    return printer.cells(obj, NOW)


def pod(name: str, containers: int, statuses: list[dict[str, Any]], phase: str = "podPhase",
        **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)]},
            "status": {"phase": phase, "containerStatuses": statuses, **status}}


RUNNING = {"running": {}}


@pytest.mark.parametrize(("obj", "expected"), [
    # name, containers, restarts, ready
    (pod("test1", 2, [{"ready": True, "restartCount": 3, "state": RUNNING},
                      {"restartCount": 3}]),
     ["test1", "1/2", "podPhase", "6"]),
    # a container's waiting reason overrides the phase
    (pod("test2", 2, [{"ready": True, "restartCount": 3, "state": RUNNING},
                      {"state": {"waiting": {"reason": "ContainerWaitingReason"}},
                       "restartCount": 3}]),
     ["test2", "1/2", "ContainerWaitingReason", "6"]),
    # the first container's reason wins over the later ones
    (pod("test3", 2, [{"state": {"waiting": {"reason": "ContainerWaitingReason"}},
                       "restartCount": 3},
                      {"state": {"terminated": {"reason": "ContainerTerminatedReason"}},
                       "restartCount": 3}]),
     ["test3", "0/2", "ContainerWaitingReason", "6"]),
    # the pod's reason overrides its phase
    (pod("test5", 2, [{"ready": True, "restartCount": 3, "state": RUNNING},
                      {"ready": True, "restartCount": 3}], reason="podReason"),
     ["test5", "1/2", "podReason", "6"]),
    # one container completed, one running, not Ready
    (pod("test6", 2, [{"ready": True, "restartCount": 3,
                       "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
                      {"ready": True, "restartCount": 3, "state": RUNNING}], phase="Running"),
     ["test6", "1/2", "NotReady", "6"]),
    # the same with the Ready condition
    (pod("test6", 2, [{"ready": True, "restartCount": 3,
                       "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
                      {"ready": True, "restartCount": 3, "state": RUNNING}], phase="Running",
         conditions=[{"type": "Ready", "status": "True"}]),
     ["test6", "1/2", "Running", "6"]),
    # a restarting init container
    ({"metadata": {"name": "test7"},
      "spec": {"initContainers": [{"name": "i0"}], "containers": [{"name": "c0"}]},
      "status": {"phase": "podPhase",
                 "initContainerStatuses": [{"ready": False, "restartCount": 3, "state": RUNNING,
                                            "lastState": {"terminated": {"finishedAt": ago(seconds=10)}}}],
                 "containerStatuses": [{"ready": False, "restartCount": 0,
                                        "state": {"waiting": {}}}]}},
     ["test7", "0/1", "Init:0/1", "3 (10s ago)"]),
    # one container restarted 5d ago
    (pod("test12", 1, [{"ready": True, "restartCount": 3, "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(days=5)}}}],
         phase="Running"),
     ["test12", "1/1", "Running", "3 (5d ago)"]),
    # two containers restarted 5d and 20d ago: the total and the latest
    (pod("test14", 2, [{"ready": True, "restartCount": 6, "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(days=5)}}},
                       {"ready": True, "restartCount": 3, "state": RUNNING,
                        "lastState": {"terminated": {"finishedAt": ago(days=20)}}}],
         phase="Running"),
     ["test14", "2/2", "Running", "9 (5d ago)"]),
    # scheduling gated
    (pod("test15", 2, [], conditions=[{"type": "PodScheduled", "status": "False",
                                       "reason": "SchedulingGated"}]),
     ["test15", "0/2", "SchedulingGated", "0"]),
    # succeeded and failed: the terminated container's reason
    (pod("test16", 1, [{"ready": False, "restartCount": 0,
                        "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
         phase="Succeeded"),
     ["test16", "0/1", "Completed", "0"]),
    (pod("test17", 1, [{"ready": False, "restartCount": 0,
                        "state": {"terminated": {"reason": "Error", "exitCode": 1}}}],
         phase="Failed"),
     ["test17", "0/1", "Error", "0"]),
])
def test_pod_cells_as_kube_apiserver(obj: dict[str, Any], expected: list[str]) -> None:
    assert cells("Pod", obj) == [*expected, "<unknown>", "<none>", "<none>", "<none>", "<none>"]


def test_pod_wide_cells_and_finished_row_conditions() -> None:
    obj = pod("web", 1, [], phase="Succeeded", podIPs=[{"ip": "10.244.0.7"}],
              nominatedNodeName="node-b",
              conditions=[{"type": "www.example.com/gate-1", "status": "True"}])
    obj["metadata"]["creationTimestamp"] = ago(minutes=42)
    obj["spec"].update(nodeName="node-a", readinessGates=[
        {"conditionType": "www.example.com/gate-1"}, {"conditionType": "www.example.com/gate-2"}])
    assert cells("Pod", obj) == ["web", "0/1", "Succeeded", "0", "42m", "10.244.0.7", "node-a",
                                 "node-b", "1/2"]
    row = to_table(by_kind("Pod"), [obj], "1")["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]


def test_pod_being_deleted_is_terminating() -> None:
    obj = pod("test19", 1, [{"ready": True, "restartCount": 0, "state": RUNNING}],
              phase="Running")
    obj["metadata"]["deletionTimestamp"] = ago(seconds=10)
    assert cells("Pod", obj)[:3] == ["test19", "1/1", "Terminating"]


def service(name: str, type_: str, ports: list[dict[str, Any]], cluster_ip: str = "10.9.8.7",
            external: list[str] | None = None, ingress: list[dict[str, str]] | None = None,
            **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name},
                           "spec": {"type": type_, "ports": ports, **spec}}
    if cluster_ip:
        obj["spec"]["clusterIP"] = cluster_ip
    if external:
        obj["spec"]["externalIPs"] = external
    if ingress:
        obj["status"] = {"loadBalancer": {"ingress": ingress}}
    return obj


TCP_8888 = [{"protocol": "tcp", "port": 8888}]


@pytest.mark.parametrize(("obj", "expected"), [
    (service("test1", "ClusterIP", [{"protocol": "tcp", "port": 2233}]),
     ["test1", "ClusterIP", "10.9.8.7", "<none>", "2233/tcp"]),
    (service("test2", "NodePort", [{"protocol": "tcp", "port": 8888, "nodePort": 9999}]),
     ["test2", "NodePort", "10.9.8.7", "<none>", "8888:9999/tcp"]),
    (service("test3", "LoadBalancer", TCP_8888),
     ["test3", "LoadBalancer", "10.9.8.7", "<pending>", "8888/tcp"]),
    (service("test4", "LoadBalancer", TCP_8888, external=["80.11.12.10"]),
     ["test4", "LoadBalancer", "10.9.8.7", "80.11.12.10", "8888/tcp"]),
    (service("test5", "LoadBalancer", TCP_8888, external=["80.11.12.10"],
             ingress=[{"ip": "3.4.5.6", "hostname": "test.cluster.com"}]),
     ["test5", "LoadBalancer", "10.9.8.7", "3.4.5.6,80.11.12.10", "8888/tcp"]),
    (service("test6", "LoadBalancer", TCP_8888, external=["80.11.12.10", "80.11.12.11"],
             ingress=[{"ip": "2.3.4.5", "hostname": "test.cluster.local"},
                      {"ip": "3.4.5.6", "hostname": "test.cluster.com"}]),
     ["test6", "LoadBalancer", "10.9.8.7", "2.3.4.5,3.4.5.6,80.11.12.10,80.11.12.11",
      "8888/tcp"]),
    (service("test7", "ExternalName", [], cluster_ip="", externalName="my.database.example.com"),
     ["test7", "ExternalName", "<none>", "my.database.example.com", "<none>"]),
])
def test_service_cells_as_kube_apiserver(obj: dict[str, Any], expected: list[str]) -> None:
    assert cells("Service", obj) == [*expected, "<unknown>", "<none>"]


def test_deployment_cells_wide() -> None:
    obj = {"metadata": {"name": "test1", "creationTimestamp": ago(hours=3)},
           "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
                    "template": {"spec": {"containers": [
                        {"name": "fake-container1", "image": "fake-image1"},
                        {"name": "fake-container2", "image": "fake-image2"}]}}},
           "status": {"replicas": 10, "updatedReplicas": 2, "availableReplicas": 1,
                      "readyReplicas": 1}}
    assert cells("Deployment", obj, "apps") == [
        "test1", "1/5", 2, 1, "3h", "fake-container1,fake-container2",
        "fake-image1,fake-image2", "foo=bar"]


@pytest.mark.parametrize(("selector", "text"), [
    ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                           {"key": "env", "operator": "NotIn", "values": ["dev"]},
                           {"key": "zone", "operator": "DoesNotExist"},
                           {"key": "app", "operator": "Exists"}]},
     "app,env notin (dev),tier in (api,web),!zone"),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]}, "<invalid>"),
    ({}, ""),
])
def test_label_selector_as_kubectl_prints_it(selector: dict[str, Any], text: str) -> None:
    assert format_selector(selector) == text


def test_endpointslice_lists_three_then_counts_the_rest() -> None:
    obj = {"metadata": {"name": "backend-abc"}, "addressType": "IPv4",
           "ports": [{"port": 80}, {"name": "https"}, {}, {"port": 9090}],
           "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                         {"addresses": ["10.0.0.4"]}]}
    assert cells("EndpointSlice", obj, "discovery.k8s.io") == [
        "backend-abc", "IPv4", "80,https,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
        "<unknown>"]
    empty = {"metadata": {"name": "none"}, "addressType": "IPv4"}
    assert cells("EndpointSlice", empty, "discovery.k8s.io")[2:4] == ["<unset>", "<unset>"]


def test_event_columns_put_the_name_last_and_wide() -> None:
    names = [(c["name"], c["priority"]) for c in column_definitions(by_kind("Event"))]
    assert names == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0),
                     ("Subobject", 1), ("Source", 1), ("Message", 0), ("First Seen", 1),
                     ("Count", 1), ("Name", 1)]
    event = {"metadata": {"name": "gw.1"}, "type": "Warning", "reason": "Invalid",
             "involvedObject": {"kind": "Gateway", "name": "gw"}, "message": " bad port \n",
             "firstTimestamp": ago(minutes=30), "lastTimestamp": ago(minutes=2), "count": 4,
             "source": {"component": "propylon"}}
    assert cells("Event", event) == ["2m", "Warning", "Invalid", "gateway/gw", "", "propylon",
                                     "bad port", "30m", 4, "gw.1"]


def test_simple_kinds_count_their_data() -> None:
    secret = {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
              "data": {"tls.crt": "", "tls.key": ""}}
    assert cells("Secret", secret) == ["tls", "kubernetes.io/tls", 2, "<unknown>"]
    config = {"metadata": {"name": "cfg"}, "data": {"a": "1"}, "binaryData": {"b": ""}}
    assert cells("ConfigMap", config) == ["cfg", 2, "<unknown>"]
    namespace = {"metadata": {"name": "team-a"}, "status": {"phase": "Active"}}
    assert cells("Namespace", namespace) == ["team-a", "Active", "<unknown>"]


def test_crd_kinds_keep_their_jsonpath_columns() -> None:
    assert printer_for("gateway.networking.k8s.io", "Gateway") is None
    names = [c["name"] for c in column_definitions(by_kind("Gateway"))]
    assert names == ["Name", "Class", "Address", "Programmed", "Age"]


def test_ingress_cells_as_kubectl_prints_them() -> None:
    ingress = {"metadata": {"name": "web", "creationTimestamp": ago(minutes=5)},
               "spec": {"ingressClassName": "propylon", "tls": [{"hosts": ["a.example.com"]}],
                        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "127.0.10.1"}]}}}
    assert cells("Ingress", ingress, "networking.k8s.io") == [
        "web", "propylon", "a.example.com,b.example.com,*", "127.0.10.1", "80, 443", "5m"]
    bare = {"metadata": {"name": "x"}, "spec": {"defaultBackend": {}}}
    assert cells("Ingress", bare, "networking.k8s.io") == ["x", "<none>", "*", "", "80",
                                                           "<unknown>"]
