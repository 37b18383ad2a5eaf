"""`kubectl get` of the built-in kinds prints the columns a cluster prints, `-o wide` included.

Real kubectl (the wheel's 1.37, and 1.32 where the machine has it) against the embedded server:
Pods with READY, the STATUS the printer derives and RESTARTS "(10d ago)"; Services with the load
balancer's EXTERNAL-IP and every port in PORT(S); Deployments, EndpointSlices, Secrets,
ConfigMaps and Namespaces as kube-apiserver prints them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import Client, Kubectl

OBJECTS = """
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec:
  nodeName: node-a
  containers:
  - {name: app, image: "nginx:1.27"}
  - {name: sidecar, image: "envoy:1.40"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false  # so only the port that asks for one has a node port
  selector: {app: web, tier: front}
  ports:
  - {name: http, port: 80, nodePort: 31234}
  - {name: https, port: 443}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "nginx:1.27"}
      - {name: sidecar, image: "envoy:1.40"}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [127.0.0.1]
- addresses: [127.0.0.2]
---
apiVersion: v1
kind: Secret
metadata: {name: tls}
type: kubernetes.io/tls
data: {tls.crt: "", tls.key: ""}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", b: "2", c: "3"}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
"""

AGE = re.compile(r"^\d+s$")


def columns(line: str) -> list[str]:
    """A kubectl table line's cells (columns are at least 3 spaces apart; cells may hold one)."""
    return re.split(r"\s{2,}", line.strip())


async def get(kubectl: Kubectl, *args: str) -> list[list[str]]:
    rows = [columns(line) for line in (await kubectl.ok("get", *args)).splitlines()]
    for row in rows[1:]:
        age = rows[0].index("AGE")
        assert AGE.match(row[age]), row
        row[age] = "<age>"
    return rows


@pytest.fixture
async def objects(client: Client, kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(OBJECTS)
    await kubectl.ok("apply", "-f", str(manifest))
    restarted = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await client.request("PATCH", "/api/v1/namespaces/default/pods/web-0/status", {"status": {
        "phase": "Running", "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}],
        "containerStatuses": [
            {"name": "app", "image": "nginx:1.27", "imageID": "", "ready": True,
             "restartCount": 3, "state": {"running": {"startedAt": restarted}},
             "lastState": {"terminated": {"exitCode": 137, "finishedAt": restarted}}},
            {"name": "sidecar", "image": "envoy:1.40", "imageID": "", "ready": False,
             "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}},
        "application/merge-patch+json")
    await client.request("PATCH", "/api/v1/namespaces/default/services/web/status", {
        "status": {"loadBalancer": {"ingress": [{"ip": "127.0.10.5"}]}}},
        "application/merge-patch+json")
    await client.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status", {
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2,
                   "availableReplicas": 2}}, "application/merge-patch+json")


@pytest.mark.usefixtures("objects")
async def test_pods_ready_status_restarts_and_wide(any_kubectl: Kubectl) -> None:
    assert await get(any_kubectl, "pods") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["web-0", "1/2", "CrashLoopBackOff", "3 (10d ago)", "<age>"]]
    assert await get(any_kubectl, "pods", "-o", "wide") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
         "READINESS GATES"],
        ["web-0", "1/2", "CrashLoopBackOff", "3 (10d ago)", "<age>", "10.244.0.7", "node-a",
         "<none>", "<none>"]]


@pytest.mark.usefixtures("objects")
async def test_services_external_ip_every_port_and_selector(any_kubectl: Kubectl) -> None:
    cluster_ip = await any_kubectl.ok("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert cluster_ip.startswith("10.96.")
    assert await get(any_kubectl, "svc") == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["web", "LoadBalancer", cluster_ip, "127.0.10.5", "80:31234/TCP,443/TCP", "<age>"]]
    assert (await get(any_kubectl, "svc", "-o", "wide"))[1][-1] == "app=web,tier=front"


@pytest.mark.usefixtures("objects")
async def test_deployments_endpointslices_and_the_simple_kinds(any_kubectl: Kubectl) -> None:
    assert await get(any_kubectl, "deploy", "-o", "wide") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "2/3", "3", "2", "<age>", "app,sidecar", "nginx:1.27,envoy:1.40", "app=web"]]
    assert await get(any_kubectl, "endpointslices") == [
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        ["web-abc", "IPv4", "8080", "127.0.0.1,127.0.0.2", "<age>"]]
    assert await get(any_kubectl, "secrets") == [
        ["NAME", "TYPE", "DATA", "AGE"], ["tls", "kubernetes.io/tls", "2", "<age>"]]
    assert await get(any_kubectl, "configmaps") == [["NAME", "DATA", "AGE"],
                                                    ["cfg", "3", "<age>"]]
    namespaces = await get(any_kubectl, "namespaces")
    assert namespaces[0] == ["NAME", "STATUS", "AGE"]
    assert ["team-a", "Active", "<age>"] in namespaces[1:]


@pytest.mark.usefixtures("objects")
async def test_all_namespaces_and_labels_with_builtin_columns(any_kubectl: Kubectl) -> None:
    rows = await get(any_kubectl, "pods", "-A", "--show-labels")
    assert rows == [["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"],
                    ["default", "web-0", "1/2", "CrashLoopBackOff", "3 (10d ago)", "<age>",
                     "app=web"]]
