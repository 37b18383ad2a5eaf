"""`kubectl get pods,svc -l gateway.networking.k8s.io/gateway-name=...` in standalone mode.

A Gateway with `spec.infrastructure` labels and annotations gets an Envoy process; kubectl then
lists a Pod for it that turns Ready, whose pid annotation is that Envoy's and whose IP is the
Gateway's address, and a LoadBalancer Service at that address; both carry the infrastructure
metadata, and both go when the Gateway is deleted.
"""

from __future__ import annotations

import pytest

from .conftest import REPO, Standalone, wait_for

pytestmark = pytest.mark.e2e

SELECTOR = "gateway.networking.k8s.io/gateway-name=api-gateway"
GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: api-gateway, namespace: default}
spec:
  gatewayClassName: propylon
  infrastructure:
    labels: {team: edge}
    annotations: {example.dev/owner: ops}
  listeners:
  - {name: http, protocol: HTTP, port: 80}
"""


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod.get("status", {}).get("conditions", []))


def test_envoy_pod_and_service_carry_the_infrastructure_metadata(standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    sa.kubectl("apply", "-f", str(REPO / "examples" / "quickstart" / "gatewayclass.yaml"))
    sa.kubectl("apply", "-f", "-", input=GATEWAY)

    [pod] = wait_for("the Envoy pod to be Ready", lambda: [
        p for p in sa.get_json("pods", "-l", SELECTOR)["items"] if ready(p)])
    address = wait_for("the Gateway address", lambda: sa.get_json("gateway", "api-gateway")
                       .get("status", {}).get("addresses"))[0]["value"]
    meta = pod["metadata"]
    assert meta["name"].startswith("api-gateway-envoy-")
    assert meta["labels"]["team"] == "edge"
    assert meta["annotations"]["example.dev/owner"] == "ops"
    assert int(meta["annotations"]["propylon.dev/pid"]) in sa.envoy_pids()
    assert meta["ownerReferences"][0]["kind"] == "Gateway"
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == address

    [svc] = sa.get_json("services", "-l", SELECTOR)["items"]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert [p["port"] for p in svc["spec"]["ports"]] == [80]
    node_port = svc["spec"]["ports"][0]["nodePort"]  # allocated as on a cluster
    assert 30000 <= node_port <= 32767
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": address, "ipMode": "VIP"}]
    assert svc["metadata"]["labels"]["team"] == "edge"
    assert svc["metadata"]["annotations"]["example.dev/owner"] == "ops"
    listing = sa.kubectl("get", "pods,svc", "-l", SELECTOR).stdout
    assert meta["name"] in listing and f"80:{node_port}/TCP" in listing

    sa.kubectl("delete", "gateway", "api-gateway")
    wait_for("the pod and the service to go", lambda: not sa.get_json(
        "pods,services", "-l", SELECTOR)["items"])
