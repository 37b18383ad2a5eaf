"""Envoy Gateway's kinds served as builtin kinds: kubectl apply, get, explain, the status
subresource, with the schema of the upstream CRDs in ../shared."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.shared_data import shared

from .conftest import Client, Kubectl

BTP = """
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: {name: retry-policy}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: web}]
  retry: {numRetries: 5, bogusField: 1}
"""
BTP_PATH = "/apis/gateway.envoyproxy.io/v1alpha1/namespaces/default/backendtrafficpolicies"


async def test_every_crd_kind_is_served(kubectl: Kubectl) -> None:
    out = await kubectl.ok("api-resources", "--api-group", "gateway.envoyproxy.io")
    served = {line.split()[-1] for line in out.splitlines()[1:]}
    kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"]
             for p in shared("envoy-gateway", "crds").glob("*.yaml")}
    assert served == kinds


async def test_apply_prunes_what_the_crd_schema_does_not_declare(
        kubectl: Kubectl, tmp_path: Path) -> None:
    path = tmp_path / "btp.yaml"
    path.write_text(BTP)
    rc, _, err = await kubectl("apply", "-f", str(path))
    assert rc != 0 and 'unknown field "spec.retry.bogusField"' in err
    rc, _, err = await kubectl("apply", "--validate=warn", "-f", str(path))
    assert rc == 0, err
    stored = yaml.safe_load(await kubectl.ok("get", "btp", "retry-policy", "-o", "yaml"))
    assert stored["spec"]["retry"] == {"numRetries": 5}
    table = await kubectl.ok("get", "backendtrafficpolicies")
    assert table.split("\n")[0].split() == ["NAME", "AGE"]


async def test_explain_reads_the_crd_schema(kubectl: Kubectl) -> None:
    out = await kubectl.ok("explain", "backendtrafficpolicy.spec.retry.perRetry")
    assert "backOff" in out and "timeout" in out


async def test_status_is_a_subresource(client: Client, kubectl: Kubectl, tmp_path: Path) -> None:
    path = tmp_path / "btp.yaml"
    path.write_text(BTP.replace(", bogusField: 1", ""))
    await kubectl.ok("apply", "-f", str(path))
    code, obj, _ = await client.request("GET", f"{BTP_PATH}/retry-policy")
    assert code == 200
    ancestors = [{"ancestorRef": {"name": "gw"}, "controllerName": "example.com/c",
                  "conditions": []}]
    code, _, _ = await client.request("PUT", f"{BTP_PATH}/retry-policy", {
        **obj, "spec": {**obj["spec"], "retry": {"numRetries": 2}},
        "status": {"ancestors": ancestors}})
    assert code == 200
    code, obj, _ = await client.request("GET", f"{BTP_PATH}/retry-policy")
    assert obj["spec"]["retry"] == {"numRetries": 2} and not obj.get("status")
    code, _, _ = await client.request("PUT", f"{BTP_PATH}/retry-policy/status",
                                      {**obj, "status": {"ancestors": ancestors}})
    assert code == 200
    code, obj, _ = await client.request("GET", f"{BTP_PATH}/retry-policy")
    assert obj["status"]["ancestors"][0]["controllerName"] == "example.com/c"
