"""`deploy/` renders with kustomize and grants what the controller's code needs, nothing missing."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from propylon.cli.controller import XDS_SERVICE, xds_address
from propylon.controller.reconciler import WATCHED_KINDS
from propylon.infra.kubernetes.manager import DEPLOYMENT, GATEWAY, OWNED_KINDS, SERVICE
from tests.e2e.conftest import BIN, REPO


def rendered() -> list[dict[str, Any]]:
    out = subprocess.run([str(BIN / "kubectl"), "kustomize", str(REPO / "deploy")],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def allowed(rules: list[dict[str, Any]], group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs |= set(rule["verbs"])
    return verbs


def test_manifests_render_with_probes_limits_and_the_xds_service() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in rendered()}
    assert ("Namespace", "propylon-system") in docs
    deployment = docs[("Deployment", "propylon-controller")]
    assert deployment["metadata"]["namespace"] == "propylon-system"
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]["memory"]
    # The xDS address is the Service's in the namespace the pod runs in, no cluster domain.
    flags = dict(arg.removeprefix("--").partition("=")[::2] for arg in container["args"][1:])
    assert "xds-address" not in flags
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in container["env"]}
    assert env["POD_NAMESPACE"] == "metadata.namespace"
    service = docs[("Service", flags.get("xds-service", XDS_SERVICE))]
    host, port = xds_address(service["metadata"]["name"], service["metadata"]["namespace"])
    assert host == "propylon-xds.propylon-system.svc"
    assert service["spec"]["ports"][0]["port"] == port


def test_the_two_controller_replicas_are_spread_and_kept_through_disruptions() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in rendered()}
    deployment = docs[("Deployment", "propylon-controller")]
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [term] = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    pdb = docs[("PodDisruptionBudget", "propylon-controller")]
    assert pdb["metadata"]["namespace"] == "propylon-system"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_cluster_role_covers_every_watched_and_managed_kind() -> None:
    [role] = [d for d in rendered() if d["kind"] == "ClusterRole"]
    rules = role["rules"]
    for info in WATCHED_KINDS:
        assert {"list", "watch"} <= allowed(rules, info.group, info.plural), info.kind
        if info.group == GATEWAY.group and info.has_status and info.kind != "ReferenceGrant":
            assert "update" in allowed(rules, info.group, f"{info.plural}/status"), info.kind
    assert "get" in allowed(rules, GATEWAY.group, GATEWAY.plural)
    assert "update" in allowed(rules, "networking.k8s.io", "ingresses/status")  # loadBalancer
    for info in OWNED_KINDS:  # server-side applied (a patch that may create) and deleted
        assert {"get", "create", "patch", "delete"} <= allowed(rules, info.group,
                                                               info.plural), info.kind
    for info in (DEPLOYMENT, SERVICE):  # the infrastructure's informers
        assert {"list", "watch"} <= allowed(rules, info.group, info.plural), info.kind
    assert "*" not in {v for r in rules for v in r["verbs"]}
