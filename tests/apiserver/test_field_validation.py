"""`fieldValidation` Strict / Warn / Ignore on every write, with the real Gateway API schemas:
unknown and duplicate fields are refused, warned about or ignored, and never stored."""

from __future__ import annotations

import copy
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from propylon.apiserver import APIServer
from propylon.apiserver.storage import Storage

from .conftest import Client, Kubectl

ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
ROUTE: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "r1"},
    "spec": {"parentRefs": [{"name": "gw"}],
             "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}}

# The rule as stored: what was sent plus the CRD's defaults.
DEFAULTED_RULE = {"backendRefs": [{"name": "svc", "port": 80, "group": "", "kind": "Service",
                                   "weight": 1}],
                  "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "state")  # the real validator
    await srv.start()
    yield srv
    await srv.stop()


def with_unknown_fields() -> dict[str, Any]:
    route = copy.deepcopy(ROUTE)
    route["spec"]["foo"] = 1
    route["spec"]["rules"][0]["bar"] = {"x": 1}
    route["metadata"]["colour"] = "red"
    return route


UNKNOWN = ['unknown field "metadata.colour"', 'unknown field "spec.foo"',
           'unknown field "spec.rules[0].bar"']


def warnings(resp: Any) -> list[str]:
    return sorted(json.loads(w.removeprefix("299 - ")) for w in resp.headers.getall("Warning", []))


async def stored(client: Client, name: str = "r1") -> dict[str, Any]:
    status, body, _ = await client.request("GET", f"{ROUTES}/{name}")
    assert status == 200, body
    return body


async def test_strict_refuses_unknown_fields_naming_each(client: Client) -> None:
    status, body, _ = await client.request("POST", ROUTES + "?fieldValidation=Strict",
                                           with_unknown_fields())
    assert status == 400, body
    assert body["reason"] == "BadRequest"
    assert body["message"].startswith('HTTPRoute in version "v1" cannot be handled as a '
                                      "HTTPRoute: strict decoding error: ")
    for message in UNKNOWN:
        assert message in body["message"]
    status, _, _ = await client.request("GET", f"{ROUTES}/r1")
    assert status == 404


@pytest.mark.parametrize("mode", ["Warn", "Ignore", None])
async def test_warn_and_ignore_prune_unknown_fields(client: Client, mode: str | None) -> None:
    query = f"?fieldValidation={mode}" if mode else ""
    status, body, resp = await client.request("POST", ROUTES + query, with_unknown_fields())
    assert status == 201, body
    assert warnings(resp) == ([] if mode == "Ignore" else UNKNOWN)  # Warn is the default
    route = await stored(client)
    assert "foo" not in route["spec"] and "colour" not in route["metadata"]
    assert route["spec"]["rules"][0] == DEFAULTED_RULE
    assert body["spec"] == route["spec"]


async def test_update_and_patch_prune_or_refuse(client: Client) -> None:
    status, body, _ = await client.request("POST", ROUTES, ROUTE)
    assert status == 201, body
    version = body["metadata"]["resourceVersion"]
    status, body, resp = await client.request(
        "PATCH", f"{ROUTES}/r1", {"spec": {"foo": 1}}, "application/merge-patch+json")
    assert status == 200, body
    assert warnings(resp) == ['unknown field "spec.foo"']
    route = await stored(client)
    assert "foo" not in route["spec"]
    # nothing but an unknown field: nothing changes, not even the generation
    assert route["metadata"]["resourceVersion"] == version
    assert route["metadata"]["generation"] == 1
    status, body, _ = await client.request(
        "PATCH", f"{ROUTES}/r1?fieldValidation=Strict",
        [{"op": "add", "path": "/spec/foo", "value": 1}], "application/json-patch+json")
    assert status == 400, body
    assert body["message"] == 'strict decoding error: unknown field "spec.foo"'
    update = {**route, "spec": {**route["spec"], "foo": 2}}
    status, body, _ = await client.request("PUT", f"{ROUTES}/r1?fieldValidation=Strict", update)
    assert status == 400, body
    status, body, resp = await client.request("PUT", f"{ROUTES}/r1?fieldValidation=Ignore",
                                              update)
    assert status == 200, body
    assert warnings(resp) == []
    assert "foo" not in (await stored(client))["spec"]


async def test_duplicate_fields_keep_the_last_and_follow_field_validation(
        client: Client) -> None:
    raw = json.dumps(ROUTE)[:-1] + ', "kind": "HTTPRoute"}'
    raw = raw.replace('"name": "r1"', '"name": "r0", "name": "r1"')
    status, body, _ = await client.request("POST", ROUTES + "?fieldValidation=Strict",
                                           raw=raw.encode())
    assert status == 400, body
    assert body["message"] == ('HTTPRoute in version "v1" cannot be handled as a HTTPRoute: '
                               'strict decoding error: duplicate field "kind", duplicate field '
                               '"metadata.name"')
    status, body, resp = await client.request("POST", ROUTES, raw=raw.encode())
    assert status == 201, body
    assert warnings(resp) == ['duplicate field "kind"', 'duplicate field "metadata.name"']
    assert body["metadata"]["name"] == "r1"
    # a server-side apply body in JSON (what kubectl sends) is checked the same way
    status, body, _ = await client.request(
        "PATCH", f"{ROUTES}/r1?fieldManager=me&fieldValidation=Strict",
        raw=b'{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", '
            b'"metadata": {"name": "r1"}, "spec": {"hostnames": ["a"], "hostnames": ["b"]}}',
        content_type="application/apply-patch+yaml")
    assert status == 400, body
    assert body["message"] == 'strict decoding error: duplicate field "spec.hostnames"'


def manifest(tmp_path: Path) -> str:
    path = tmp_path / "route.yaml"
    route = copy.deepcopy(ROUTE)
    route["spec"]["foo"] = 1
    path.write_text(yaml.safe_dump(route))
    return str(path)


async def test_kubectl_validate_strict_warn_false(kubectl: Kubectl, client: Client,
                                                 tmp_path: Path) -> None:
    rc, _, err = await kubectl("apply", "--validate=strict", "-f", manifest(tmp_path))
    assert rc != 0
    assert 'strict decoding error: unknown field "spec.foo"' in err
    rc, _, err = await kubectl("apply", "--validate=warn", "-f", manifest(tmp_path))
    assert rc == 0, err
    assert 'Warning: unknown field "spec.foo"' in err
    assert "foo" not in (await stored(client))["spec"]
    await kubectl.ok("delete", "httproute", "r1")
    rc, _, err = await kubectl("apply", "--validate=false", "-f", manifest(tmp_path))
    assert rc == 0, err
    assert "unknown field" not in err
    assert "foo" not in (await stored(client))["spec"]
    rc, _, err = await kubectl("apply", "--server-side", "--validate=false", "-f",
                               manifest(tmp_path))
    assert rc == 0, err
    assert "foo" not in (await stored(client))["spec"]


async def test_strict_writes_clean_unknown_fields_stored_before_they_were_pruned(
        tmp_path: Path) -> None:
    state = tmp_path / "older"
    state.mkdir()
    storage = Storage(state / "state.db")  # as an older server stored it, unknown field and all
    stale = copy.deepcopy(ROUTE)
    stale["metadata"].update(namespace="default", uid="u1", generation=1)
    stale["spec"]["foo"] = 1
    storage.put("httproutes.gateway.networking.k8s.io", "default", "r1", stale)
    storage.close()
    server = APIServer(state)
    await server.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=ssl.create_default_context(cafile=str(state / "ca.crt")))) as session:
            client = Client(server, session, (state / "token").read_text().strip())
            status, body, _ = await client.request(
                "PATCH", f"{ROUTES}/r1?fieldValidation=Strict",
                {"spec": {"hostnames": ["a.example"]}}, "application/merge-patch+json")
            assert status == 200, body
            assert "foo" not in body["spec"] and body["spec"]["hostnames"] == ["a.example"]
            status, body, _ = await client.request(
                "PATCH", f"{ROUTES}/r1?fieldValidation=Strict", {"spec": {"bar": 1}},
                "application/merge-patch+json")
            assert status == 400
            assert body["message"] == 'strict decoding error: unknown field "spec.bar"'
    finally:
        await server.stop()


@pytest.mark.parametrize("exists", [False, True])
async def test_server_side_apply_never_owns_a_pruned_field(client: Client, exists: bool) -> None:
    if exists:
        status, body, _ = await client.request("POST", ROUTES, ROUTE)
        assert status == 201, body
    status, body, resp = await client.request(
        "PATCH", f"{ROUTES}/r1?fieldManager=ops", with_unknown_fields(),
        "application/apply-patch+yaml")
    assert status in (200, 201), body
    assert warnings(resp) == UNKNOWN
    route = await stored(client)
    assert "foo" not in route["spec"] and "bar" not in route["spec"]["rules"][0]
    (entry,) = [m for m in route["metadata"]["managedFields"] if m["manager"] == "ops"]
    owned = json.dumps(entry["fieldsV1"])
    assert '"f:parentRefs"' in owned
    assert "f:foo" not in owned and "f:bar" not in owned and "f:colour" not in owned
    status, body, _ = await client.request(
        "PATCH", f"{ROUTES}/r1?fieldManager=ops&fieldValidation=Strict", with_unknown_fields(),
        "application/apply-patch+yaml")
    assert status == 400 and 'unknown field "spec.foo"' in body["message"], body
