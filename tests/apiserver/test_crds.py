"""CustomResourceDefinitions: the upstream Gateway API bundle applied with kubectl, like a cluster."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from propylon.apiserver import APIServer
from tests.shared_data import shared

from .conftest import GATEWAYS, Client, Kubectl

CRDS = shared("gateway-api", "crds", "v1.6.1")
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {"group": "example.dev", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "shortNames": ["wd"]},
             "versions": [
                 {"name": "v1alpha1", "served": True, "storage": False,
                  "schema": {"openAPIV3Schema": {"type": "object"}}},
                 {"name": "v1", "served": True, "storage": True,
                  "subresources": {"status": {}},
                  "additionalPrinterColumns": [
                      {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                  "schema": {"openAPIV3Schema": {
                      "type": "object", "description": "A widget.",
                      "properties": {"spec": {"type": "object", "properties": {
                          "size": {"type": "integer"}}}}}}}]}}
WIDGETS = "/apis/example.dev/v1/namespaces/default/widgets"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "state", builtin_gateway_api=False)
    await srv.start()
    yield srv
    await srv.stop()


async def test_gateway_api_is_absent_until_its_crds_are_applied(client: Client) -> None:
    status, _, _ = await client.request("GET", GATEWAYS)
    assert status == 404


@pytest.mark.parametrize("bundle", ["standard-install.yaml", "experimental-install.yaml"])
async def test_upstream_bundle_applies_and_serves_its_kinds(kubectl: Kubectl, tmp_path: Path,
                                                            bundle: str) -> None:
    # the experimental HTTPRoute CRD is over 256 KiB: as on a cluster, it does not fit in the
    # annotation of a client-side apply and needs --server-side
    side = ("--server-side",) if bundle.startswith("experimental") else ()
    out = await kubectl.ok("apply", *side, "-f", str(CRDS / bundle))
    done = "serverside-applied" if side else "created"
    assert "customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io " \
           f"{done}" in out
    assert "validatingadmissionpolicy.admissionregistration.k8s.io/safe-upgrades" in out
    again = await kubectl.ok("apply", *side, "-f", str(CRDS / bundle))
    assert f"gateways.gateway.networking.k8s.io {'serverside-applied' if side else 'unchanged'}" \
        in again
    await kubectl.ok("wait", "--for=condition=Established", "--timeout=30s",
                     "crd/gateways.gateway.networking.k8s.io")
    resources = await kubectl.ok("api-resources", "--api-group=gateway.networking.k8s.io")
    assert "gtw" in resources and "Gateway" in resources and "httproutes" in resources
    gw = tmp_path / "gw.yaml"
    gw.write_text("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
                  "metadata: {name: gw1}\nspec:\n  gatewayClassName: propylon\n"
                  "  listeners: [{name: http, port: 80, protocol: HTTP}]\n")
    await kubectl.ok("apply", "-f", str(gw))
    table = await kubectl.ok("get", "gtw")
    assert table.split("\n")[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert table.split("\n")[1].split()[:2] == ["gw1", "propylon"]
    beta = json.loads(await kubectl.ok("get", "gateways.v1beta1.gateway.networking.k8s.io",
                                       "gw1", "-o", "json"))
    assert beta["apiVersion"] == "gateway.networking.k8s.io/v1beta1"
    explain = await kubectl.ok("explain", "gateway.spec.listeners.port")
    assert "FIELD: port" in explain


async def test_crd_versions_columns_status_and_deletion(client: Client,
                                                        kubectl: Kubectl) -> None:
    status, crd, _ = await client.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    assert status == 201
    assert {c["type"] for c in crd["status"]["conditions"]} == {"Established", "NamesAccepted"}
    assert crd["status"]["storedVersions"] == ["v1"]
    status, _, _ = await client.request(
        "POST", WIDGETS, {"apiVersion": "example.dev/v1", "kind": "Widget",
                          "metadata": {"name": "w1"}, "spec": {"size": 3}})
    assert status == 201
    status, _, _ = await client.request("PATCH", WIDGETS + "/w1/status", {"status": {"ok": True}},
                                        "application/merge-patch+json")
    assert status == 200
    assert (await kubectl.ok("get", "wd")).split() == ["NAME", "SIZE", "w1", "3"]
    _, doc, _ = await client.request("GET", "/apis")
    group = next(g for g in doc["groups"] if g["name"] == "example.dev")
    assert group["preferredVersion"]["version"] == "v1"
    status, _, _ = await client.request(
        "GET", "/apis/example.dev/v1alpha1/namespaces/default/widgets/w1/status")
    assert status == 404  # v1alpha1 declares no status subresource
    _, listed, _ = await client.request("GET", "/apis/example.dev/v1alpha1/widgets")
    assert [w["apiVersion"] for w in listed["items"]] == ["example.dev/v1alpha1"]
    assert listed["apiVersion"] == "example.dev/v1alpha1"
    status, _, _ = await client.request(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.dev")
    assert status == 200
    status, _, _ = await client.request("GET", WIDGETS + "/w1")
    assert status == 404


async def test_invalid_crd_is_refused(client: Client) -> None:
    bad = {**WIDGET_CRD, "metadata": {"name": "gadgets.example.dev"}}
    status, body, _ = await client.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "metadata.name"


async def test_crds_survive_a_restart(server: APIServer, client: Client) -> None:
    status, _, _ = await client.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    assert status == 201
    await server.stop()
    await server.start()
    status, body, _ = await client.request("GET", WIDGETS)
    assert status == 200 and body["kind"] == "WidgetList"


async def test_fields_a_crd_schema_does_not_declare_are_pruned_or_refused(
        client: Client) -> None:
    crd = json.loads(json.dumps(WIDGET_CRD))
    spec_schema = crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"].update(
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        parts={"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}}}},
        free={"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    status, body, _ = await client.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 201, body
    widget = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"size": 3, "colour": "red", "labels": {"a.b/c": "d"},
                       "parts": [{"name": "p", "weight": 2}], "free": {"any": {"thing": 1}}},
              "extra": True}
    status, body, _ = await client.request("POST", WIDGETS + "?fieldValidation=Strict", widget)
    assert status == 400, body
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.colour", unknown field "spec.parts[0].weight", '
        'unknown field "extra"')
    status, body, resp = await client.request("POST", WIDGETS, widget)
    assert status == 201, body
    assert len(resp.headers.getall("Warning")) == 3
    _, stored, _ = await client.request("GET", WIDGETS + "/w1")
    assert "extra" not in stored
    assert stored["spec"] == {"size": 3, "labels": {"a.b/c": "d"}, "parts": [{"name": "p"}],
                              "free": {"any": {"thing": 1}}}
