"""The proxy pods of Kubernetes mode as rendered: golden manifests (defaults, and every
GatewayParameters field), Pod Security "restricted" on every pod, replicas left to an HPA, the
budget and the rolling update, the lifecycle (probes, hooks, grace period, drain arguments),
the pod's own listeners and heap limit in the bootstrap, and why pods cannot be created."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api import envoyproxy
from propylon.api.parameters import GatewayParameters
from propylon.infra.kubernetes import lifecycle
from propylon.infra.kubernetes.manager import pod_failures
from propylon.infra.kubernetes.resources import ProxyOptions, gateway_objects
from propylon.infra.labels import Owner, selector_labels
from propylon.ir.model import GatewayKey, InfraIR, InfraListener
from propylon.translate.parameters import merge
from tests.infra.pod_security import violations
from tests.k8s.test_deploy import rendered

TESTDATA = Path(__file__).parent / "testdata"
KEY = GatewayKey("apps", "web")
OWNER = Owner("gateway.networking.k8s.io/v1", "web", "uid-1")
IR = InfraIR(KEY, "propylon", (InfraListener("http", 80, "HTTP"),
                               InfraListener("https", 8443, "HTTPS")))
PARAMETERS = {
    "replicas": 5,  # ignored: autoscaling is set
    "autoscaling": {"minReplicas": 3, "maxReplicas": 10},
    "podDisruptionBudget": {"minAvailable": 2},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway"}],
    "priorityClassName": "edge-critical",
    "imagePullSecrets": [{"name": "mirror-credentials"}],
    "podSecurityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
    "securityContext": {"readOnlyRootFilesystem": True},
    "resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "512Mi"}},
}
OPTIONS = ProxyOptions(shutdown_image="propylon/controller:0.1.0")
CA_BUNDLE = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"


def with_parameters(spec: dict[str, Any]) -> InfraIR:
    decoded = GatewayParameters.decode({"metadata": {"name": "p", "namespace": "apps"},
                                        "spec": spec})
    return replace(IR, parameters=merge(None, decoded))


def objects(ir: InfraIR, tls: bool = False) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in gateway_objects(ir, OWNER, "propylon-xds.propylon-system.svc",
                                                  18000, OPTIONS, CA_BUNDLE if tls else None)}


@pytest.mark.parametrize("case", ["defaults", "parameters"])
def test_golden(case: str, update_golden: bool) -> None:
    ir = IR if case == "defaults" else with_parameters(PARAMETERS)
    got = yaml.safe_dump_all([o for o in objects(ir).values() if o["kind"] != "ConfigMap"],
                             sort_keys=True)
    path = TESTDATA / f"proxy-{case}.yaml"
    if update_golden:
        path.write_text(got)
    assert got == path.read_text(), f"{path} differs; rerun with --update-golden and read the diff"


def pods() -> dict[str, dict[str, Any]]:
    out = {f"proxy {name}": objects(ir, tls)["Deployment"]["spec"]["template"]["spec"]
           for name, ir, tls in (("defaults", IR, False), ("with xDS TLS", IR, True),
                                 ("with parameters", with_parameters(PARAMETERS), True))}
    for doc in rendered():  # and the controller's own pods
        if doc["kind"] == "Deployment":
            out[f"deploy/ {doc['metadata']['name']}"] = doc["spec"]["template"]["spec"]
    return out


def test_every_pod_passes_pod_security_restricted() -> None:
    found = {name: violations(spec) for name, spec in pods().items()}
    assert found == {name: [] for name in found}


def test_the_restricted_check_finds_what_breaks_it() -> None:
    spec = objects(IR)["Deployment"]["spec"]["template"]["spec"]
    spec["securityContext"].pop("seccompProfile")
    spec["containers"][0]["securityContext"].pop("seccompProfile")
    spec["containers"][1]["securityContext"]["allowPrivilegeEscalation"] = True
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert violations(spec) == [
        "volume host is of type ['hostPath']",
        "container envoy has seccompProfile None",
        "container shutdown-manager does not set allowPrivilegeEscalation false"]
    unsafe = with_parameters({"securityContext": {"runAsNonRoot": False,
                                                  "capabilities": {"add": ["NET_ADMIN"]}}})
    assert violations(objects(unsafe)["Deployment"]["spec"]["template"]["spec"]) == [
        "container envoy does not drop ALL capabilities",
        "container envoy adds capabilities ['NET_ADMIN']",
        "container envoy does not run as non-root"]


def test_two_replicas_roll_one_in_before_one_out_within_a_budget() -> None:
    objs = objects(IR)
    deployment = objs["Deployment"]["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 0, "maxSurge": 1}}
    assert objs["PodDisruptionBudget"]["spec"] == {
        "selector": {"matchLabels": selector_labels(KEY)}, "maxUnavailable": 1}
    assert "HorizontalPodAutoscaler" not in objs


def test_with_autoscaling_the_hpa_owns_the_replicas() -> None:
    objs = objects(with_parameters(PARAMETERS))
    assert "replicas" not in objs["Deployment"]["spec"]
    hpa = objs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "propylon-web"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["labelSelector"] == {"matchLabels": selector_labels(KEY)}
    assert pod["priorityClassName"] == "edge-critical"
    assert pod["imagePullSecrets"] == [{"name": "mirror-credentials"}]
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_pod_drains_before_envoy_stops() -> None:
    pod = objects(IR)["Deployment"]["spec"]["template"]["spec"]
    envoy, sidecar = pod["containers"]
    drain = OPTIONS.drain
    assert envoy["image"] == "envoyproxy/envoy:v1.40.0"
    assert envoy["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert envoy["startupProbe"]["httpGet"]["port"] == envoy["readinessProbe"]["httpGet"]["port"]
    assert envoy["livenessProbe"]["tcpSocket"]["port"] == 19003
    args = envoy["args"]
    assert args[args.index("--drain-strategy") + 1] == "immediate"
    assert int(args[args.index("--drain-time-s") + 1]) >= drain.drain_timeout_s
    assert "drained" in " ".join(envoy["lifecycle"]["preStop"]["exec"]["command"])
    hook = sidecar["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[:3] == ["propylon", "proxy-shutdown-manager", "drain"]
    assert sidecar["image"] == "propylon/controller:0.1.0"
    assert pod["terminationGracePeriodSeconds"] > drain.min_drain_s + drain.drain_timeout_s
    shared = {m["name"] for m in envoy["volumeMounts"]} & {m["name"] for m in
                                                         sidecar["volumeMounts"]}
    assert shared == {"shutdown"}


def test_the_bootstrap_serves_readiness_stats_and_limits_the_heap() -> None:
    config = json.loads(objects(IR)["ConfigMap"]["data"]["envoy.json"])
    listeners = {li["name"]: li["address"]["socket_address"]["port_value"]
                 for li in config["static_resources"]["listeners"]}
    assert listeners == {"propylon-stats": 19001, "propylon-ready": 19003}
    assert config["dynamic_resources"]["lds_config"]["initial_fetch_timeout"] == "0s"
    [heap] = [m for m in config["overload_manager"]["resource_monitors"]
              if m["name"] == "envoy.resource_monitors.fixed_heap"]
    assert heap["typed_config"]["max_heap_size_bytes"] == int(1024**3 * 0.8)  # of 1Gi
    small = json.loads(objects(with_parameters(PARAMETERS))["ConfigMap"]["data"]["envoy.json"])
    assert int(512 * 1024**2 * 0.8) in [
        m["typed_config"].get("max_heap_size_bytes")
        for m in small["overload_manager"]["resource_monitors"]]
    assert lifecycle.heap_limit({"requests": {"memory": "1Gi"}}) is None


def test_the_reason_pods_cannot_be_created_is_said() -> None:
    deployment = {"status": {"conditions": [
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "propylon-web-5d9" is forbidden: violates PodSecurity '
                    '"restricted:latest": seccompProfile'}]}}
    assert pod_failures(deployment) == [
        'FailedCreate: pods "propylon-web-5d9" is forbidden: violates PodSecurity '
        '"restricted:latest": seccompProfile']
    assert pod_failures({"status": {}}) == []


def test_an_envoy_proxy_sets_the_same_fields() -> None:
    proxy = envoyproxy.decode({"metadata": {"name": "p", "namespace": "apps"}, "spec": {
        "provider": {"type": "Kubernetes", "kubernetes": {
            "envoyHpa": {"minReplicas": 2, "maxReplicas": 6, "name": "custom"},
            "envoyPDB": {"minAvailable": 1},
            "envoyDeployment": {"pod": {"priorityClassName": "edge-critical",
                                        "imagePullSecrets": [{"name": "mirror"}]},
                                "container": {"securityContext": {"runAsUser": 2000}}}}}}})
    assert proxy.ignored == ("spec.provider.kubernetes.envoyHpa.name",)
    objs = objects(replace(IR, parameters=merge(None, proxy.parameters)))
    assert (objs["HorizontalPodAutoscaler"]["spec"]["minReplicas"],
            objs["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]) == (2, 6)
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert (pod["priorityClassName"], pod["imagePullSecrets"]) == ("edge-critical",
                                                                  [{"name": "mirror"}])
    assert pod["containers"][0]["securityContext"]["runAsUser"] == 2000
    assert violations(pod) == []
