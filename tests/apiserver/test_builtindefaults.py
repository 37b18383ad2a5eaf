"""kube-apiserver's defaults of the built-in kinds (`builtindefaults`), case by case as the
upstream defaults_test.go files of core/v1, apps/v1 and discovery/v1 state them: what is
filled, and that what the user set (an explicit zero included) stays."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.apiserver.builtindefaults import fill
from propylon.apiserver.events import EventHub
from propylon.apiserver.registry import Registry
from propylon.apiserver.storage import Storage

POD_SPEC = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30}
CONTAINER = {"terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File"}


def filled(kind: str, obj: dict[str, Any], group: str = "") -> dict[str, Any]:
    return fill(by_kind(kind, group), copy.deepcopy(obj))


def container(**fields: Any) -> dict[str, Any]:
    return filled("Pod", {"spec": {"containers": [fields]}})["spec"]["containers"][0]


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"),  # no tag is latest
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.local:5000/nginx", "Always"),  # a registry port is no tag
    ("registry.local:5000/nginx:1.27", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),  # a digest: nothing to pull again
    ("nginx:latest@sha256:" + "a" * 64, "Always"),
])
def test_image_pull_policy_from_the_tag(image: str, policy: str) -> None:
    assert container(name="c", image=image)["imagePullPolicy"] == policy


def test_a_container_set_pull_policy_stays() -> None:
    assert container(name="c", image="x", imagePullPolicy="Never")["imagePullPolicy"] == "Never"


def test_pod_defaults() -> None:
    pod = filled("Pod", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "x:1", "ports": [{"containerPort": 80}],
         "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
         "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}},
         "livenessProbe": {"httpGet": {"port": 80}},
         "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5}}]}})
    assert pod["spec"] == {**POD_SPEC, "enableServiceLinks": True, "containers": [{
        "name": "c", "image": "x:1", "imagePullPolicy": "IfNotPresent", **CONTAINER,
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                         "fieldPath": "metadata.name"}}}],
        # requests default to limits, the ones set stay
        "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi", "cpu": "1"}},
        "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                          "failureThreshold": 3},
        "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 5,
                           "successThreshold": 1, "failureThreshold": 3}}]}


def test_pod_values_set_stay_explicit_zeros_included() -> None:
    spec = {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never",
            "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": False, "securityContext": {"runAsUser": 1000},
            "schedulerName": "mine"}
    assert {k: v for k, v in filled("Pod", {"spec": spec})["spec"].items()
            if k != "containers"} == {k: v for k, v in spec.items() if k != "containers"}


def test_host_network_ports_are_host_ports() -> None:
    pod = filled("Pod", {"spec": {"hostNetwork": True, "containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}})
    assert pod["spec"]["containers"][0]["ports"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]


def test_volumes() -> None:
    pod = filled("Pod", {"spec": {"containers": [], "volumes": [
        {"name": "none"},  # no source: an emptyDir
        {"name": "s", "secret": {"secretName": "s"}},
        {"name": "cm", "configMap": {"name": "cm", "defaultMode": 256}},
        {"name": "h", "hostPath": {"path": "/x"}},
        {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]}})
    assert pod["spec"]["volumes"] == [
        {"name": "none", "emptyDir": {}},
        {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}},
        {"name": "cm", "configMap": {"name": "cm", "defaultMode": 256}},
        {"name": "h", "hostPath": {"path": "/x", "type": ""}},
        {"name": "p", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}}]


def test_deployment_defaults_and_template() -> None:
    deploy = filled("Deployment", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "x:1"}]}}}}, "apps")
    assert deploy["spec"] == {
        "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        # a template gets SetDefaults_PodSpec, not SetDefaults_Pod (no enableServiceLinks)
        "template": {"spec": {**POD_SPEC, "containers": [
            {"name": "c", "image": "x:1", "imagePullPolicy": "IfNotPresent", **CONTAINER}]}}}
    assert deploy["status"] == {}


def test_deployment_values_set_stay() -> None:
    spec = {"replicas": 0, "revisionHistoryLimit": 0, "progressDeadlineSeconds": 30,
            "strategy": {"type": "Recreate"}}
    assert filled("Deployment", {"spec": spec}, "apps")["spec"] == spec
    rolling = filled("Deployment", {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0}}}},
                     "apps")["spec"]["strategy"]
    assert rolling == {"type": "RollingUpdate",
                       "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}


@pytest.mark.parametrize(("spec", "added"), [
    ({"ports": [{"port": 80}]},
     {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}),
    ({"type": "NodePort", "ports": [{"port": 80}]},
     {"sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
      "externalTrafficPolicy": "Cluster"}),
    ({"type": "LoadBalancer", "ports": [{"port": 80}]},
     {"sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
      "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True}),
    # a ClusterIP Service with external IPs is reachable from outside too
    ({"externalIPs": ["192.0.2.1"], "ports": [{"port": 80}]},
     {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
      "externalTrafficPolicy": "Cluster"}),
    ({"type": "ExternalName", "externalName": "example.com"}, {"sessionAffinity": "None"}),
    ({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
     {"type": "ClusterIP", "internalTrafficPolicy": "Cluster",
      "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
])
def test_service_defaults(spec: dict[str, Any], added: dict[str, Any]) -> None:
    svc = filled("Service", {"spec": spec})
    expected_ports = [{**p, "protocol": "TCP", "targetPort": p["port"]}
                      for p in spec.get("ports", [])]
    assert svc["spec"] == {**spec, **added, **({"ports": expected_ports} if expected_ports
                                               else {})}
    assert svc["status"] == {"loadBalancer": {}}


def test_service_values_set_stay() -> None:
    spec = {"type": "LoadBalancer", "sessionAffinity": "None",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},  # dropped: no affinity
            "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
            "allocateLoadBalancerNodePorts": False,
            "ports": [{"port": 53, "protocol": "UDP", "targetPort": "dns"}]}
    svc = filled("Service", {"spec": spec, "status": {"loadBalancer": {"ingress": [
        {"ip": "127.0.0.5"}, {"hostname": "lb.example"}]}}})
    assert svc["spec"] == {k: v for k, v in spec.items() if k != "sessionAffinityConfig"}
    # an ingress IP's mode is VIP (a hostname has none)
    assert svc["status"]["loadBalancer"]["ingress"] == [
        {"ip": "127.0.0.5", "ipMode": "VIP"}, {"hostname": "lb.example"}]


def test_secret_namespace_endpointslice() -> None:
    assert filled("Secret", {"data": {}})["type"] == "Opaque"
    assert filled("Secret", {"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    ns = filled("Namespace", {"metadata": {"name": "team", "labels": {
        "kubernetes.io/metadata.name": "other", "a": "b"}}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team", "a": "b"}
    assert ns["status"] == {"phase": "Active"}
    slice_ = filled("EndpointSlice", {"ports": [{"port": 80}, {"name": "dns", "port": 53,
                                                                "protocol": "UDP"}]},
                    "discovery.k8s.io")
    assert slice_["ports"] == [{"port": 80, "name": "", "protocol": "TCP"},
                               {"name": "dns", "port": 53, "protocol": "UDP"}]


def test_kinds_without_defaults_and_malformed_input_are_left_alone() -> None:
    cm = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    assert filled("ConfigMap", cm) == cm
    # what the schema refuses later is not the defaulter's to crash on
    assert filled("Pod", {"spec": "nonsense"}) == {"spec": "nonsense"}
    assert filled("Deployment", {"spec": {"template": {"spec": {"containers": [3]}}}},
                  "apps")["spec"]["template"]["spec"]["containers"] == [3]


async def test_objects_stored_before_their_defaults_are_served_with_them(tmp_path: Path
                                                                         ) -> None:
    """kube-apiserver defaults what it reads from etcd: a Secret and a Deployment written by
    an older Propylon (no defaults) come back defaulted, at the resourceVersion they had."""
    storage = Storage(tmp_path / "state.db")
    rv = storage.put("secrets", "default", "old", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old", "namespace": "default"},
        "data": {}})
    storage.put("deployments.apps", "default", "web", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}, "spec": {"template": {}}})
    reg = Registry(storage, EventHub(100, storage.resource_version), None)
    secret = reg.get(by_kind("Secret", ""), "default", "old")
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["resourceVersion"] == str(rv)
    assert reg.get(by_kind("Deployment", "apps"), "default", "web")["spec"]["replicas"] == 1
    storage.close()


async def test_namespace_finalizer_added_on_create_kept_on_update(tmp_path: Path) -> None:
    """kube-apiserver's Namespace strategy: `kubernetes` added to the finalizers asked for at
    create; an update cannot change them."""
    storage = Storage(tmp_path / "state.db")
    reg = Registry(storage, EventHub(100, storage.resource_version), None)
    namespaces = by_kind("Namespace", "")
    created, _ = await reg.create(namespaces, "", {"metadata": {"name": "team"},
                                                   "spec": {"finalizers": ["example.com/x"]}},
                                  {}, "Strict")
    assert created["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    updated, _ = await reg.update(namespaces, "", "team", {"metadata": {"name": "team"}}, {},
                                  "Strict", False)
    assert updated["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    await reg.delete(namespaces, "", "team", None, {})  # deleted at once: the work is done
    assert storage.get("namespaces", "", "team") is None
    storage.close()
