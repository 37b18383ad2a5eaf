"""CRD defaults as kube-apiserver fills them, status defaults included, seen through kubectl:
a GatewayClass no controller owns says "Waiting for controller", as on a cluster."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api.schema import Arr, Map, Node, Obj
from propylon.api.validation import SCHEMAS
from propylon.apiserver import APIServer
from propylon.apiserver.storage import Storage
from tests.shared_data import shared

from .conftest import Client, Kubectl

FOREIGN = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg-gw}
spec:
  gatewayClassName: eg
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r1}
spec:
  parentRefs: [{name: eg-gw}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
"""


def pending(*types: str) -> list[dict[str, str]]:
    """The Gateway API CRDs' `status.default` conditions, written out."""
    return [{"lastTransitionTime": "1970-01-01T00:00:00Z", "message": "Waiting for controller",
             "reason": "Pending", "status": "Unknown", "type": t} for t in types]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "state")  # standalone: builtin Gateway API kinds, real schemas
    await srv.start()
    yield srv
    await srv.stop()


def manifest(tmp_path: Path, text: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return str(path)


async def get_json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(await kubectl.ok("get", *args, "-o", "json"))
    return out


async def test_unowned_class_and_gateway_wait_for_controller(kubectl: Kubectl,
                                                             tmp_path: Path) -> None:
    await kubectl.ok("apply", "-f", manifest(tmp_path, FOREIGN))
    rows = (await kubectl.ok("get", "gatewayclass", "eg")).splitlines()
    assert rows[0].split() == ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]
    assert rows[1].split()[:3] == ["eg", "gateway.envoyproxy.io/gatewayclass-controller",
                                   "Unknown"]
    described = await kubectl.ok("describe", "gatewayclass", "eg")
    assert "Waiting for controller" in described and "Pending" in described
    cls = await get_json(kubectl, "gatewayclass", "eg")
    assert cls["status"] == {"conditions": pending("Accepted")}
    gw = await get_json(kubectl, "gateway", "eg-gw")
    assert gw["status"] == {"conditions": pending("Accepted", "Programmed")}
    assert (await kubectl.ok("get", "gateway", "eg-gw")).splitlines()[1].split()[:3] == \
        ["eg-gw", "eg", "Unknown"]  # no ADDRESS: PROGRAMMED follows CLASS
    # spec defaults at every level, as the CRDs declare them
    assert gw["spec"]["listeners"][0]["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    route = await get_json(kubectl, "httproute", "r1")
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "eg-gw"}]
    assert route["spec"]["rules"] == [{
        "backendRefs": [{"group": "", "kind": "Service", "name": "svc", "port": 80,
                         "weight": 1}],
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]
    # the defaults are the server's: applying the same files again stores nothing new and
    # conflicts with nobody. As on a cluster, kubectl's client-side apply resends a list whose
    # items the server defaulted (its JSON merge patch compares lists whole, kubernetes#66450)
    # and so says "configured" for the Gateway and the route; the server finds no change.
    versions = {(kind, name): (await get_json(kubectl, kind, name))["metadata"]["resourceVersion"]
                for kind, name in (("gatewayclass", "eg"), ("gateway", "eg-gw"),
                                   ("httproute", "r1"))}
    out = await kubectl.ok("apply", "-f", manifest(tmp_path, FOREIGN))
    assert out.splitlines() == ["gatewayclass.gateway.networking.k8s.io/eg unchanged",
                                "gateway.gateway.networking.k8s.io/eg-gw configured",
                                "httproute.gateway.networking.k8s.io/r1 configured"]
    for kind, name in versions:
        assert (await get_json(kubectl, kind, name))["metadata"]["resourceVersion"] == \
            versions[(kind, name)], kind
    await kubectl.ok("apply", "--server-side", "-f", manifest(tmp_path, FOREIGN))
    for kind, name in versions:  # only managedFields changed: the spec is the same
        assert (await get_json(kubectl, kind, name))["metadata"]["generation"] == 1, kind


async def test_a_controller_status_replaces_the_default_conditions(client: Client,
                                                                   kubectl: Kubectl,
                                                                   tmp_path: Path) -> None:
    await kubectl.ok("apply", "-f", manifest(tmp_path, FOREIGN))
    cls = await get_json(kubectl, "gatewayclass", "eg")
    accepted = {"type": "Accepted", "status": "True", "reason": "Accepted",
                "message": "ours", "lastTransitionTime": "2026-12-01T00:00:00Z",
                "observedGeneration": 1}
    cls["status"] = {"conditions": [accepted]}
    path = "/apis/gateway.networking.k8s.io/v1/gatewayclasses/eg/status"
    status, body, _ = await client.request("PUT", path, cls)
    assert status == 200, body
    assert (await get_json(kubectl, "gatewayclass", "eg"))["status"] == {"conditions": [accepted]}
    rows = (await kubectl.ok("get", "gatewayclass", "eg")).splitlines()
    assert rows[1].split()[2] == "True"
    # a status written without conditions gets the default ones, as from the CRD
    cls["status"] = {}
    cls["metadata"].pop("resourceVersion")
    status, body, _ = await client.request("PUT", path, cls)
    assert status == 200, body
    assert body["status"] == {"conditions": pending("Accepted")}


async def test_objects_stored_without_defaults_are_served_with_them(tmp_path: Path) -> None:
    """A state database written before these defaults existed: the objects are read with
    them, at the resourceVersion they had, as kube-apiserver defaults what it reads."""
    state = tmp_path / "state"
    first = APIServer(state)
    await first.start()
    await first.stop()
    storage = Storage(state / "state.db")
    old = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
           "metadata": {"name": "eg", "uid": "u1", "generation": 1,
                        "creationTimestamp": "2026-11-01T00:00:00Z"},
           "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}}
    version = storage.put("gatewayclasses.gateway.networking.k8s.io", "", "eg", old)
    storage.close()
    server = APIServer(state)
    await server.start()
    try:
        kubectl = Kubectl(server, tmp_path / "cache")
        cls = await get_json(kubectl, "gatewayclass", "eg")
        assert cls["status"] == {"conditions": pending("Accepted")}
        assert cls["metadata"]["resourceVersion"] == str(version)
    finally:
        await server.stop()


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {"group": "example.dev", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{
                 "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                     "spec": {"type": "object", "properties": {
                         "size": {"type": "integer", "default": 3},
                         "colour": {"type": "string", "nullable": True, "default": "red"},
                         "shape": {"type": "object", "default": {},
                                   "properties": {"sides": {"type": "integer", "default": 4}}},
                         "parts": {"type": "array", "items": {
                             "type": "object",
                             "properties": {"count": {"type": "integer", "default": 1}}}},
                         "labels": {"type": "object", "additionalProperties": {
                             "type": "object",
                             "properties": {"weight": {"type": "integer", "default": 10}}}}}},
                     "status": {"type": "object",
                                "default": {"phase": "Pending"},
                                "properties": {"phase": {"type": "string"}}}}}}}]}}


@pytest.fixture
async def cluster_like(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "cluster", builtin_gateway_api=False)
    await srv.start()
    yield srv
    await srv.stop()


async def test_crd_defaults_at_every_level(cluster_like: APIServer, tmp_path: Path) -> None:
    kubectl = Kubectl(cluster_like, tmp_path / "cache")
    await kubectl.ok("apply", "-f", "-", stdin=json.dumps(WIDGET_CRD))
    await kubectl.ok("wait", "--for=condition=Established", "--timeout=30s",
                     "crd/widgets.example.dev")
    widget = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"size": None, "colour": None, "parts": [{}, {"count": 2}],
                       "labels": {"a": {}, "b": {"weight": 1}}}}
    await kubectl.ok("create", "-f", "-", stdin=json.dumps(widget))
    got = await get_json(kubectl, "widget", "w1")
    assert got["spec"] == {"size": 3, "colour": None, "shape": {"sides": 4},
                           "parts": [{"count": 1}, {"count": 2}],
                           "labels": {"a": {"weight": 10}, "b": {"weight": 1}}}
    assert got["status"] == {"phase": "Pending"}


async def test_upstream_gateway_api_crds_default_status(cluster_like: APIServer,
                                                        tmp_path: Path) -> None:
    kubectl = Kubectl(cluster_like, tmp_path / "cache")
    await kubectl.ok("apply", "-f", str(shared("gateway-api", "crds", "v1.6.1",
                                               "standard-install.yaml")))
    await kubectl.ok("wait", "--for=condition=Established", "--timeout=30s",
                     "crd/gatewayclasses.gateway.networking.k8s.io")
    await kubectl.ok("apply", "-f", manifest(tmp_path, FOREIGN))
    assert (await get_json(kubectl, "gatewayclass", "eg"))["status"] == \
        {"conditions": pending("Accepted")}
    gw = await get_json(kubectl, "gateway", "eg-gw")
    assert gw["status"] == {"conditions": pending("Accepted", "Programmed")}
    route = await get_json(kubectl, "httproute", "r1")
    assert route["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix",
                                                              "value": "/"}}]


def test_builtin_defaults_are_the_crds() -> None:
    """The builtin Gateway API kinds' defaults (Python schema) are the v1.6.1 CRDs' ones, every
    one of them: the same object is stored standalone and on a cluster."""
    bundle = shared("gateway-api", "crds", "v1.6.1", "experimental-install.yaml")
    crds = [d for d in yaml.safe_load_all(bundle.read_text())
            if d and d.get("kind") == "CustomResourceDefinition"]
    compared = 0
    for crd in crds:
        schema = SCHEMAS.get((crd["spec"]["group"], crd["spec"]["names"]["kind"]))
        if schema is None:
            continue
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        assert schema_defaults(schema) == crd_defaults(version["schema"]["openAPIV3Schema"]), \
            crd["spec"]["names"]["kind"]
        compared += 1
    assert compared == 9  # the seven HTTP/TLS/GRPC kinds with TCPRoute and UDPRoute


def schema_defaults(node: Node, path: str = "",
                    found: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults of a Python schema by path (`.spec.rules[].matches`)."""
    found = {} if found is None else found
    if node.default is not None and path:
        found[path] = node.default
    if isinstance(node, Obj):
        for name, child in node.fields.items():
            schema_defaults(child, f"{path}.{name}", found)
    elif isinstance(node, Arr):
        schema_defaults(node.items, f"{path}[]", found)
    elif isinstance(node, Map):
        schema_defaults(node.values, f"{path}{{}}", found)
    return found


def crd_defaults(schema: dict[str, Any], path: str = "",
                 found: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults of an openAPIV3Schema by path, written as `schema_defaults` writes them."""
    found = {} if found is None else found
    if "default" in schema and path:
        found[path] = schema["default"]
    for name, child in (schema.get("properties") or {}).items():
        crd_defaults(child, f"{path}.{name}", found)
    if isinstance(schema.get("items"), dict):
        crd_defaults(schema["items"], f"{path}[]", found)
    if isinstance(schema.get("additionalProperties"), dict):
        crd_defaults(schema["additionalProperties"], f"{path}{{}}", found)
    return found
