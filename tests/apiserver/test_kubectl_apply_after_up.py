"""`kubectl apply -f` on objects `propylon up -f` applied behaves as after a `kubectl apply`.

On a cluster, `kubectl apply` of an object created some other way warns that the
last-applied-configuration annotation is missing. `propylon up -f` records that annotation as
kubectl would, so applying the same file again is "unchanged" with no warning, and a field
dropped from the file is removed by kubectl's three-way merge.
"""

from __future__ import annotations

import json
from pathlib import Path

from propylon.apiserver import APIServer
from propylon.client import load_client
from propylon.manifests import ManifestSync

from .conftest import Kubectl

# The listeners carry the CRD's default allowedRoutes: kubectl's client-side apply compares
# lists whole (a JSON merge patch), so a list whose items the server defaulted is resent and
# reported "configured" on a cluster too (kubernetes#66450).
MANIFEST = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: embedded
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
  - {name: alt, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  annotations: {note: "a <b> & c"}
data: {a: "1", b: "2"}
"""


async def test_kubectl_apply_after_propylon_up(any_kubectl: Kubectl, server: APIServer,
                                               tmp_path: Path) -> None:
    manifest = tmp_path / "manifests" / "app.yaml"
    manifest.parent.mkdir()
    manifest.write_text(MANIFEST)
    client = load_client(server.kubeconfig_path)
    try:
        await ManifestSync(client, [manifest.parent], tmp_path / "applied.json").sync_once()
    finally:
        await client.close()

    rc, out, err = await any_kubectl("apply", "-f", str(manifest))
    assert rc == 0, err
    assert "last-applied-configuration" not in err
    assert out.splitlines() == ["gateway.gateway.networking.k8s.io/gw unchanged",
                                "configmap/cfg unchanged"]

    manifest.write_text(MANIFEST.replace(
        "  - {name: alt, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}\n",
        "")
                        .replace(', b: "2"', ""))
    rc, out, err = await any_kubectl("apply", "-f", str(manifest))
    assert rc == 0, err
    assert "last-applied-configuration" not in err
    assert out.splitlines() == ["gateway.gateway.networking.k8s.io/gw configured",
                                "configmap/cfg configured"]
    gw = json.loads(await any_kubectl.ok("get", "gateway", "gw", "-o", "json"))
    assert [listener["name"] for listener in gw["spec"]["listeners"]] == ["http"]
    cfg = json.loads(await any_kubectl.ok("get", "configmap", "cfg", "-o", "json"))
    assert cfg["data"] == {"a": "1"}
