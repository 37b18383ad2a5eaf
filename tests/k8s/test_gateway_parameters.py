"""GatewayParameters in Kubernetes mode: Propylon's CRD from `deploy/` applied with kubectl, a
GatewayClass with cluster defaults and a Gateway with its own parameters; the proxies'
Deployment and Service follow them, and an invalid reference is reported on the Gateway."""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import Cluster, condition

pytestmark = pytest.mark.e2e

MANIFESTS = """
apiVersion: propylon.dev/v1alpha1
kind: GatewayParameters
metadata: {name: cluster-defaults, namespace: propylon-system}
spec:
  replicas: 2
  serviceType: NodePort
  resources:
    requests: {cpu: 200m, memory: 192Mi}
    limits: {memory: 768Mi}
---
apiVersion: propylon.dev/v1alpha1
kind: GatewayParameters
metadata: {name: edge, namespace: default}
spec:
  replicas: 3
  concurrency: 2
  nodeSelector: {pool: edge}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: propylon}
spec:
  controllerName: propylon.dev/gateway-controller
  parametersRef: {group: propylon.dev, kind: GatewayParameters, name: cluster-defaults,
                  namespace: propylon-system}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  gatewayClassName: propylon
  infrastructure:
    parametersRef: {group: propylon.dev, kind: GatewayParameters, name: edge}
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: propylon.dev/v1alpha1
kind: GatewayParameters
metadata: {name: scaled, namespace: default}
spec:
  autoscaling: {minReplicas: 2, maxReplicas: 8}
  podDisruptionBudget: {minAvailable: 1}
  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}
  priorityClassName: edge-critical
  imagePullSecrets: [{name: mirror}]
  podSecurityContext: {runAsUser: 1000}
  securityContext: {readOnlyRootFilesystem: true}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: scaled, namespace: default}
spec:
  gatewayClassName: propylon
  infrastructure:
    parametersRef: {group: propylon.dev, kind: GatewayParameters, name: scaled}
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: typo, namespace: default}
spec:
  gatewayClassName: propylon
  infrastructure:
    parametersRef: {group: propylon.dev, kind: GatewayParameters, name: egde}
  listeners: [{name: http, protocol: HTTP, port: 80}]
"""


def test_a_gateway_with_parameters_gets_those_replicas_resources_and_service_type(
        cluster: Cluster) -> None:
    cluster.install()
    assert yaml.safe_load(cluster.kubectl("get", "crd", "gatewayparameters.propylon.dev",
                                          "-o", "yaml"))["spec"]["group"] == "propylon.dev"
    cluster.controller("controller")
    cluster.kubectl("apply", "-f", "-", stdin=MANIFESTS)

    deployment = wait_for("the proxy Deployment", lambda: cluster.get("deployment", "propylon-edge"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 3  # the Gateway's
    assert container["resources"] == {"requests": {"cpu": "200m", "memory": "192Mi"},
                                      "limits": {"memory": "768Mi"}}  # the class's
    assert container["args"][container["args"].index("--concurrency") + 1] == "2"
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "edge"}
    service = cluster.get("service", "propylon-edge")
    assert service["spec"]["type"] == "NodePort"
    assert condition(cluster.get("gatewayclass", "propylon"), "Accepted")["status"] == "True"

    hpa = wait_for("the HPA", lambda: cluster.get("hpa", "propylon-scaled"))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert hpa["spec"]["scaleTargetRef"]["name"] == "propylon-scaled"
    assert cluster.get("pdb", "propylon-scaled")["spec"]["minAvailable"] == 1
    scaled = cluster.get("deployment", "propylon-scaled", "--show-managed-fields")
    [applied] = [m for m in scaled["metadata"]["managedFields"] if m["manager"] == "propylon"]
    assert "f:replicas" not in applied["fieldsV1"]["f:spec"]  # the HPA's to set
    pod = scaled["spec"]["template"]["spec"]
    assert (pod["priorityClassName"], pod["imagePullSecrets"]) == ("edge-critical",
                                                                  [{"name": "mirror"}])
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
    assert cluster.get("pdb", "propylon-edge")["spec"]["maxUnavailable"] == 1

    accepted = wait_for("the typo reported", lambda: condition(
        cluster.get("gateway", "typo"), "Accepted").get("reason") == "InvalidParameters"
        and condition(cluster.get("gateway", "typo"), "Accepted"))
    assert accepted["status"] == "False"
    assert "default/egde" in accepted["message"] and "create GatewayParameters" in \
        accepted["message"]
    assert not cluster.kubectl("get", "deployment", "propylon-typo", "--ignore-not-found",
                               "-o", "name").strip()
