"""`deploy/` renders with kustomize and grants exactly what the controller's code needs: every
(apiGroup, resource, verb) its client calls use, derived from the kinds the code names, compared
with the RBAC rules both ways (a verb broader than needed fails as a missing one does)."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from propylon.api.kinds import KindInfo
from propylon.cli.controller import XDS_SERVICE, xds_address
from propylon.controller.certs import CA_SECRET, SERVER_SECRET
from propylon.controller.issuer import TOKEN_REVIEW
from propylon.controller.reconciler import WATCHED_KINDS
from propylon.infra.kubernetes.manager import DEPLOYMENT, GATEWAY, OWNED_KINDS, SERVICE
from propylon.infra.kubernetes.resources import ProxyOptions
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
    # the proxies' agent dials the same Service on the certificate endpoint's port
    certificate_port = int(flags["certificate-listen"].rpartition(":")[2])
    assert certificate_port == ProxyOptions().issuer_port
    assert certificate_port in {p["port"] for p in service["spec"]["ports"]}
    assert certificate_port in {p["containerPort"] for p in container["ports"]}


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


# Watched kinds the controller never reports on (no status written, never read by name).
UNREPORTED = {"ReferenceGrant", "GatewayParameters", "EnvoyProxy", "HTTPRouteFilter",
              "IngressClass", "Namespace", "Service", "EndpointSlice", "Secret", "ConfigMap"}
Access = tuple[str, str, str]  # (apiGroup, resource, verb)


def needed() -> set[Access]:
    """Every (apiGroup, resource, verb) the controller's code asks for cluster-wide, from the
    kinds it names: what each client call of it is."""
    out: set[Access] = set()

    def grant(info: KindInfo, *verbs: str, sub: str = "") -> None:
        out.update((info.group, info.plural + sub, verb) for verb in verbs)
    for info in (*WATCHED_KINDS, DEPLOYMENT, SERVICE):  # `Informer`: list, then watch
        grant(info, "list", "watch")
    for info in WATCHED_KINDS:  # `StatusWriter`: replace the status, read again on a conflict
        if info.kind not in UNREPORTED:
            grant(info, "get")
            grant(info, "update", sub="/status")
    grant(GATEWAY, "get")  # `GatewayOwners` (its uid), `KubernetesInfra._release`
    for info in OWNED_KINDS:  # `KubernetesInfra`: read first, server-side apply
        grant(info, "get", "create", "patch", "delete")  # (a patch that may create), delete
    grant(TOKEN_REVIEW, "create")  # `CertificateEndpoint`: who a proxy's token is
    return out


# In the controller's namespace only: the leader-election Lease and the xDS CA and server
# certificate Secrets (`LeaderElector`, `CertManager`: read, create, replace).
# The Secrets by name ("" for any): create cannot be limited to names, get and update are.
NAMESPACE_NEEDED = {("coordination.k8s.io", "leases", v, "") for v in ("get", "create", "update")} \
    | {("", "secrets", "create", "")} \
    | {("", "secrets", v, name) for v in ("get", "update") for name in (CA_SECRET, SERVER_SECRET)}


def granted(rules: list[dict[str, Any]]) -> set[Access]:
    out: set[Access] = set()
    for rule in rules:
        assert not rule.get("resourceNames"), rule
        out.update((group, resource, verb) for group in rule["apiGroups"]
                   for resource in rule["resources"] for verb in rule["verbs"])
    assert not {a for a in out if "*" in a}, "no wildcard"
    return out


def test_rbac_grants_exactly_what_the_code_uses() -> None:
    docs = rendered()
    [cluster_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [role] = [d for d in docs if d["kind"] == "Role"]
    rules, wanted = granted(cluster_role["rules"]), needed()
    assert not rules - wanted, f"broader than the code needs: {sorted(rules - wanted)}"
    assert not wanted - rules, f"missing: {sorted(wanted - rules)}"
    namespaced = {(group, resource, verb, name) for rule in role["rules"]
                  for group in rule["apiGroups"] for resource in rule["resources"]
                  for verb in rule["verbs"] for name in rule.get("resourceNames") or [""]}
    assert namespaced == NAMESPACE_NEEDED, sorted(namespaced ^ NAMESPACE_NEEDED)
    # no update of the proxy objects (server-side apply is a patch), no write of any
    # object's spec the controller does not own
    assert not {a for a in rules if a[2] == "update" and not a[1].endswith("/status")}
    # proxies prove their identity with a ServiceAccount token: no Secret is written anywhere
    # but the controller's own namespace (its CA and server certificate)
    assert not {a for a in rules if a[:2] == ("", "secrets") and a[2] not in ("list", "watch")}
