"""Envoy Gateway's policies in Kubernetes mode, on a cluster that may also run Envoy Gateway.

The controller starts before Envoy Gateway's CRDs exist and says so in one log line; `make
envoy-gateway-crds` installs them from ../shared (server-side apply); the controller then
watches the policies with no restart. A policy targeting Propylon's Gateway gets Propylon's
ancestor entry; one targeting only a Gateway of Envoy Gateway's class gets none; and on a policy
targeting a Gateway of each, the entry Envoy Gateway wrote (played here with a read-modify-write
of the status, as a controller makes it) is kept as it was across Propylon's writes. Every
request the controller made is allowed by the ClusterRole `deploy/` renders.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import BIN, REPO, wait_for
from tests.k8s.conftest import QUICKSTART, Cluster
from tests.k8s.test_deploy import rendered
from tests.k8s.test_rbac import allows
from tests.shared_data import shared

pytestmark = pytest.mark.e2e

OURS = "propylon.dev/gateway-controller"
THEIRS = "gateway.envoyproxy.io/gatewayclass-controller"
EG_KINDS = "SecurityPolicy, BackendTrafficPolicy, ClientTrafficPolicy, EnvoyExtensionPolicy, " \
           "EnvoyPatchPolicy, EnvoyProxy, HTTPRouteFilter, Backend"

FOREIGN = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: envoy-gateway}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg-gateway, namespace: default}
spec:
  gatewayClassName: envoy-gateway
  listeners: [{name: http, protocol: HTTP, port: 80}]
"""


def policies(methods: list[str]) -> str:
    gateway = "{group: gateway.networking.k8s.io, kind: Gateway, name: %s}"
    return f"""
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {{name: ours, namespace: default}}
spec:
  targetRefs: [{gateway % "api-gateway"}]
  timeout: {{http: {{requestTimeout: 2s}}}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {{name: theirs, namespace: default}}
spec:
  targetRefs: [{gateway % "eg-gateway"}]
  timeout: {{http: {{requestTimeout: 2s}}}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {{name: both, namespace: default}}
spec:
  targetRefs: [{gateway % "api-gateway"}, {gateway % "eg-gateway"}]
  cors: {{allowOrigins: ["https://*.example.com"], allowMethods: {json.dumps(methods)}}}
"""


def ancestors(cluster: Cluster, kind: str, name: str) -> list[dict[str, Any]]:
    return list(cluster.get(kind, name).get("status", {}).get("ancestors") or [])


def entry(items: list[dict[str, Any]], controller: str) -> dict[str, Any]:
    [found] = [a for a in items if a["controllerName"] == controller]
    return found


def accepted(item: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in item["conditions"] if c["type"] == "Accepted")


def write_as_envoy_gateway(cluster: Cluster, kind: str, name: str,
                           keep: Callable[[dict[str, Any]], bool] = lambda _: True,
                           ) -> dict[str, Any]:
    """Add Envoy Gateway's ancestor entry (eg-gateway, Accepted) to the policy's status the way
    a controller does: read, add (to the entries `keep` keeps), update with the resourceVersion
    read (a 409 reads again)."""
    theirs = {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "name": "eg-gateway", "namespace": "default"},
              "controllerName": THEIRS,
              "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                              "message": "Policy has been accepted.", "observedGeneration": 1,
                              "lastTransitionTime": "2026-01-02T03:04:05Z"}]}

    def attempt() -> bool:
        obj = cluster.get(kind, name)
        status = obj.setdefault("status", {})
        status["ancestors"] = [*(a for a in status.get("ancestors") or () if keep(a)), theirs]
        cluster.kubectl("replace", "--subresource=status", "-f", "-", stdin=json.dumps(obj))
        return True  # a 409 raises: wait_for tries again

    wait_for(f"Envoy Gateway's entry written on {kind} {name}", attempt)
    return theirs


def test_policies_with_envoy_gateway_crds_installed_later(cluster: Cluster) -> None:
    cluster.install()
    controller, _ = cluster.controller("controller")
    wait_for("the line saying Envoy Gateway's CRDs are missing",
             lambda: "Envoy Gateway's CRDs are not installed" in cluster.log("controller"))
    cluster.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"),
                    "-f", str(QUICKSTART / "gateway.yaml"))
    cluster.kubectl("apply", "-f", "-", stdin=FOREIGN)

    subprocess.run(["make", "-s", "envoy-gateway-crds", f"EG_CRDS={shared('envoy-gateway', 'crds')}",
                    f"KUBECTL={BIN / 'kubectl'} --kubeconfig {cluster.kubeconfig}"],
                   cwd=REPO, check=True, capture_output=True, timeout=120)
    served = {d["metadata"]["name"] for d in
              cluster.get("crd")["items"] if d["spec"]["group"] == "gateway.envoyproxy.io"}
    assert {"securitypolicies.gateway.envoyproxy.io",
            "backendtrafficpolicies.gateway.envoyproxy.io"} <= served
    cluster.kubectl("apply", "-f", "-", stdin=policies(["GET"]))
    theirs = write_as_envoy_gateway(cluster, "securitypolicy", "both")

    # Watched once served (the informers look again every 30 s), with no restart.
    ours = wait_for("Propylon's entry on BackendTrafficPolicy ours", lambda: entry(
        ancestors(cluster, "backendtrafficpolicy", "ours"), OURS), timeout=90)
    assert ours["ancestorRef"]["name"] == "api-gateway"
    assert accepted(ours)["status"] == "True", ours
    both = wait_for("Propylon's entry beside Envoy Gateway's", lambda: (
        lambda items: len(items) == 2 and items)(ancestors(cluster, "securitypolicy", "both")))
    assert entry(both, OURS)["ancestorRef"]["name"] == "api-gateway"
    assert accepted(entry(both, OURS))["status"] == "True", both
    assert entry(both, THEIRS) == theirs
    log = (cluster.tmp / "controller.log").read_text()
    assert "Envoy Gateway's CRDs are installed: watching" in log
    assert log.count("Envoy Gateway's CRDs are not installed") == 1
    assert f"{EG_KINDS} not served" in log
    assert "informer SecurityPolicy: the server does not serve" not in log

    # Propylon rewrites its own entry for a new generation; Envoy Gateway's stays as written.
    cluster.kubectl("apply", "-f", "-", stdin=policies(["GET", "POST"]))
    wait_for("Propylon's entry for generation 2", lambda: accepted(entry(
        ancestors(cluster, "securitypolicy", "both"), OURS))["observedGeneration"] == 2)
    assert entry(ancestors(cluster, "securitypolicy", "both"), THEIRS) == theirs
    # A writer that drops Propylon's entry (a careless one) does not make it go away.
    write_as_envoy_gateway(cluster, "securitypolicy", "both", keep=lambda _: False)
    wait_for("Propylon's entry written again", lambda: len(ancestors(
        cluster, "securitypolicy", "both")) == 2)
    assert entry(ancestors(cluster, "securitypolicy", "both"), THEIRS) == theirs
    # A policy whose every target is another controller's is not written, not even an empty
    # list (Propylon's passes over it are long done: "ours", of the same kind, was written).
    assert "ancestors" not in (cluster.get("backendtrafficpolicy", "theirs").get("status") or {})

    controller.terminate()
    controller.wait(timeout=30)
    docs = rendered()
    [cluster_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [role] = [d for d in docs if d["kind"] == "Role"]
    requests = [r for r in map(json.loads, cluster.audit_log.read_text().splitlines())
                if not r["user_agent"].startswith("kubectl/")]
    verbs = {(r["verb"], r["resource"], r["subresource"]) for r in requests}
    for expected in [("watch", "securitypolicies", ""), ("watch", "backendtrafficpolicies", ""),
                     ("update", "securitypolicies", "status"),
                     ("update", "backendtrafficpolicies", "status")]:
        assert expected in verbs, expected
    denied = sorted({json.dumps(r) for r in requests
                     if not allows(cluster_role["rules"], r)
                     and not (r["namespace"] == role["metadata"]["namespace"]
                              and allows(role["rules"], r))})
    assert not denied, "\n".join(denied)
    assert not [r for r in requests if r["group"] == "gateway.envoyproxy.io"
                and r["verb"] not in ("get", "list", "watch")
                and r["subresource"] != "status"], "only status is written"
