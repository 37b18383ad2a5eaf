"""The older Gateway API versions that the official v1.6.1 CRDs serve (v1beta1 of GatewayClass,
Gateway, HTTPRoute and ReferenceGrant; the experimental channel's v1alpha2 of TCPRoute and
UDPRoute): served with the same schema, listed by discovery, objects stored once in v1 and
returned in the version asked for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from propylon.apiserver import APIServer

from .conftest import Client, Kubectl
from .test_http import read_events

GROUP = "gateway.networking.k8s.io"
V1 = f"/apis/{GROUP}/v1/namespaces/default"
BETA = f"/apis/{GROUP}/v1beta1/namespaces/default"
BETA_ROUTE = {"apiVersion": f"{GROUP}/v1beta1", "kind": "HTTPRoute",
              "metadata": {"name": "r1"},
              "spec": {"parentRefs": [{"name": "gw"}],
                       "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}}
BETA_GRANT = {"apiVersion": f"{GROUP}/v1beta1", "kind": "ReferenceGrant",
              "metadata": {"name": "g1"},
              "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "other"}],
                       "to": [{"group": "", "kind": "Service"}]}}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "state")  # the real validator
    await srv.start()
    yield srv
    await srv.stop()


async def test_discovery_lists_v1beta1_with_v1_preferred(client: Client) -> None:
    _, groups, _ = await client.request("GET", "/apis")
    group = next(g for g in groups["groups"] if g["name"] == GROUP)
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha2"]
    assert group["preferredVersion"]["version"] == "v1"
    status, resources, _ = await client.request("GET", f"/apis/{GROUP}/v1beta1")
    assert status == 200
    assert sorted(r["name"] for r in resources["resources"] if "/" not in r["name"]) == [
        "gatewayclasses", "gateways", "httproutes", "referencegrants"]
    status, _, _ = await client.request("GET", f"{BETA}/grpcroutes")
    assert status == 404  # the CRDs serve GRPCRoute in v1 only
    status, resources, _ = await client.request("GET", f"/apis/{GROUP}/v1alpha2")
    assert sorted(r["name"] for r in resources["resources"] if "/" not in r["name"]) == [
        "tcproutes", "udproutes"]


async def test_a_v1alpha2_tcproute_is_stored_in_v1_and_checked_by_its_schema(
        client: Client) -> None:
    alpha = f"/apis/{GROUP}/v1alpha2/namespaces/default"
    route = {"apiVersion": f"{GROUP}/v1alpha2", "kind": "TCPRoute", "metadata": {"name": "t1"},
             "spec": {"parentRefs": [{"name": "gw", "sectionName": "tcp"}],
                      "rules": [{"backendRefs": [{"name": "svc", "port": 3000}]}]}}
    status, created, _ = await client.request("POST", f"{alpha}/tcproutes", route)
    assert status == 201, created
    _, v1, _ = await client.request("GET", f"{V1}/tcproutes/t1")
    assert v1["apiVersion"] == f"{GROUP}/v1"
    assert v1["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1  # the CRD default
    no_port = {**route, "metadata": {"name": "t2"},
               "spec": {**route["spec"], "rules": [{"backendRefs": [{"name": "svc"}]}]}}
    status, refused, _ = await client.request("POST", f"{alpha}/tcproutes", no_port)
    assert status == 422
    assert "Must have port for Service reference" in json.dumps(refused)


async def test_an_object_is_stored_once_and_read_in_any_version(client: Client) -> None:
    status, created, _ = await client.request("POST", f"{BETA}/httproutes", BETA_ROUTE)
    assert status == 201, created
    assert created["apiVersion"] == f"{GROUP}/v1beta1"
    _, v1, _ = await client.request("GET", f"{V1}/httproutes/r1")
    assert v1["apiVersion"] == f"{GROUP}/v1"
    assert v1["spec"] == created["spec"]
    _, listed, _ = await client.request("GET", f"{V1}/httproutes")
    assert [(o["apiVersion"], o["metadata"]["name"]) for o in listed["items"]] == [
        (f"{GROUP}/v1", "r1")]
    _, listed, _ = await client.request("GET", f"{BETA}/httproutes")
    assert [o["apiVersion"] for o in listed["items"]] == [f"{GROUP}/v1beta1"]
    # a change through v1 is seen through v1beta1, and the schema is the same
    status, body, _ = await client.request(
        "PATCH", f"{V1}/httproutes/r1", {"spec": {"hostnames": ["a.example"]}},
        "application/merge-patch+json")
    assert status == 200, body
    _, beta, _ = await client.request("GET", f"{BETA}/httproutes/r1")
    assert beta["spec"]["hostnames"] == ["a.example"]
    status, body, _ = await client.request(
        "PATCH", f"{BETA}/httproutes/r1?fieldValidation=Strict", {"spec": {"port": 1}},
        "application/merge-patch+json")
    assert status == 400 and 'unknown field "spec.port"' in body["message"], body


async def test_a_watch_on_v1_sees_writes_made_through_v1beta1(client: Client) -> None:
    _, listing, _ = await client.request("GET", f"{V1}/referencegrants")
    status, body, _ = await client.request("POST", f"{BETA}/referencegrants", BETA_GRANT)
    assert status == 201, body
    status, body, _ = await client.request(
        "PATCH", f"{BETA}/referencegrants/g1", {"metadata": {"labels": {"a": "b"}}},
        "application/merge-patch+json")
    assert status == 200, body
    events = await read_events(client, f"{V1}/referencegrants?watch=true&resourceVersion="
                                       f"{listing['metadata']['resourceVersion']}", 2)
    assert [(e["type"], e["object"]["apiVersion"]) for e in events] == [
        ("ADDED", f"{GROUP}/v1"), ("MODIFIED", f"{GROUP}/v1")]
    beta = await read_events(client, f"{BETA}/referencegrants?watch=true", 1)
    assert beta[0]["object"]["apiVersion"] == f"{GROUP}/v1beta1"


async def test_kubectl_applies_v1beta1_and_gets_either_version(kubectl: Kubectl,
                                                               tmp_path: Path) -> None:
    manifest = tmp_path / "beta.yaml"
    manifest.write_text(yaml.safe_dump_all([BETA_ROUTE, BETA_GRANT]))
    out = await kubectl.ok("apply", "-f", str(manifest))
    assert "httproute.gateway.networking.k8s.io/r1 created" in out
    assert "referencegrant.gateway.networking.k8s.io/g1 created" in out
    beta = json.loads(await kubectl.ok("get", f"httproutes.v1beta1.{GROUP}", "r1", "-o", "json"))
    assert beta["apiVersion"] == f"{GROUP}/v1beta1"
    v1 = json.loads(await kubectl.ok("get", "httproute", "r1", "-o", "json"))
    assert v1["apiVersion"] == f"{GROUP}/v1"
    assert "unchanged" in await kubectl.ok("apply", "-f", str(manifest))
    out = await kubectl.ok("apply", "--server-side", "-f", str(manifest))
    assert "r1 serverside-applied" in out
