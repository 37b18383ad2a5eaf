"""HTTP-level behaviour clients depend on: errors as Status, auth, discovery, watch protocol."""

from __future__ import annotations

import asyncio
import json

from .conftest import GATEWAYS, Client, gateway

SERVICES = "/api/v1/namespaces/default/services"


async def read_events(client: Client, path: str, count: int) -> list[dict]:
    headers = {"Authorization": f"Bearer {client.token}"}
    events = []
    async with client.session.get(client.server.url + path, headers=headers) as resp:
        assert resp.status == 200
        while len(events) < count:
            line = await asyncio.wait_for(resp.content.readline(), 30)
            assert line, f"stream ended after {events}"
            events.append(json.loads(line))
    return events


async def test_errors_are_status_with_exact_content_type(client: Client) -> None:
    status, body, resp = await client.request("GET", f"{GATEWAYS}/missing")
    assert status == 404 and resp.headers["Content-Type"] == "application/json"
    assert body["kind"] == "Status" and body["message"] == 'gateways "missing" not found'
    status, body, _ = await client.request(
        "POST", "/api/v1/namespaces/default/secrets", raw=b"k8s\x00\xff\xfe",
        content_type="application/vnd.kubernetes.protobuf")
    assert status == 400 and body["reason"] == "BadRequest"
    assert "runtime.Unknown" in body["message"]
    status, body, _ = await client.request(
        "POST", "/api/v1/namespaces/default/secrets", raw=b"<xml/>", content_type="text/xml")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    status, body, _ = await client.request("GET", "/apis/example.com/v1/things")
    assert status == 404
    assert body["message"] == "the server could not find the requested resource"


async def test_token_required_except_healthz(client: Client) -> None:
    async with client.session.get(client.server.url + "/api/v1/namespaces") as resp:
        assert resp.status == 401
    async with client.session.get(client.server.url + "/healthz") as resp:
        assert resp.status == 200
    for wrong in (f"Bearer {client.token[:-1]}", f"Bearer {client.token}\u00e9", "Basic x"):
        async with client.session.get(client.server.url + "/api/v1/namespaces",
                                      headers={"Authorization": wrong}) as resp:
            assert resp.status == 401, wrong


async def test_aggregated_discovery_content_type(client: Client) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," \
             "application/json"
    status, body, resp = await client.request("GET", "/apis", headers={"Accept": accept})
    assert resp.headers["Content-Type"] == \
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = {item["metadata"]["name"] for item in body["items"]}
    assert "gateway.networking.k8s.io" in groups
    status, body, _ = await client.request("GET", "/apis/gateway.networking.k8s.io/v1")
    assert "gateways/status" in {r["name"] for r in body["resources"]}


async def test_namespace_rules(client: Client) -> None:
    status, body, _ = await client.request(
        "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/nope/gateways", gateway("g"))
    assert status == 404 and body["message"] == 'namespaces "nope" not found'
    mismatched = gateway("g")
    mismatched["metadata"]["namespace"] = "kube-system"
    status, body, _ = await client.request("POST", GATEWAYS, mismatched)
    assert status == 400 and "does not match the namespace" in body["message"]
    await client.request("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    status, _, _ = await client.request(
        "POST", "/apis/gateway.networking.k8s.io/v1/namespaces/team/gateways", gateway("g"))
    assert status == 201
    status, _, _ = await client.request("DELETE", "/api/v1/namespaces/team")
    assert status == 200
    status, body, _ = await client.request("GET", "/apis/gateway.networking.k8s.io/v1/gateways")
    assert body["items"] == []


async def test_invalid_name_is_422_with_cause(client: Client) -> None:
    status, body, _ = await client.request("POST", GATEWAYS, gateway("Not_Valid"))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"


async def test_service_gets_distinct_cluster_ips(client: Client) -> None:
    ips = []
    for name in ("a", "b"):
        _, body, _ = await client.request("POST", SERVICES, {
            "metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}})
        ips.append(body["spec"]["clusterIP"])
    assert ips[0] != ips[1] and all(ip.startswith("10.96.") for ip in ips)


async def test_send_initial_events_ends_with_annotated_bookmark(client: Client) -> None:
    await client.request("POST", GATEWAYS, gateway("gw1"))
    await client.request("POST", GATEWAYS, gateway("gw2"))
    events = await read_events(
        client, f"{GATEWAYS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
                "&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Dgw2", 2)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "gw2"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {
        "k8s.io/initial-events-end": "true"}


async def test_periodic_bookmarks_and_timeout(client: Client) -> None:
    _, listing, _ = await client.request("GET", GATEWAYS)
    rv = listing["metadata"]["resourceVersion"]
    events = await read_events(client, f"{GATEWAYS}?watch=true&resourceVersion={rv}"
                                       "&allowWatchBookmarks=true", 1)
    assert events[0]["type"] == "BOOKMARK"
    headers = {"Authorization": f"Bearer {client.token}"}
    async with client.session.get(f"{client.server.url}{GATEWAYS}?watch=true&timeoutSeconds=1"
                                  f"&resourceVersion={rv}", headers=headers) as resp:
        assert await asyncio.wait_for(resp.read(), 30) == b""


async def test_watch_table_has_columns_only_first(client: Client) -> None:
    await client.request("POST", GATEWAYS, gateway("gw1"))
    await client.request("POST", GATEWAYS, gateway("gw2"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    headers = {"Authorization": f"Bearer {client.token}", "Accept": accept}
    async with client.session.get(f"{client.server.url}{GATEWAYS}?watch=true",
                                  headers=headers) as resp:
        first = json.loads(await asyncio.wait_for(resp.content.readline(), 30))
        second = json.loads(await asyncio.wait_for(resp.content.readline(), 30))
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == [
        "Name", "Class", "Address", "Programmed", "Age"]
    assert second["object"]["columnDefinitions"] is None
    assert second["object"]["rows"][0]["cells"][:2] == ["gw2", "embedded"]


async def test_list_limit_and_continue(client: Client) -> None:
    for i in range(3):
        await client.request("POST", GATEWAYS, gateway(f"gw{i}"))
    _, page, _ = await client.request("GET", f"{GATEWAYS}?limit=2")
    assert [g["metadata"]["name"] for g in page["items"]] == ["gw0", "gw1"]
    _, rest, _ = await client.request(
        "GET", f"{GATEWAYS}?limit=2&continue={page['metadata']['continue']}")
    assert [g["metadata"]["name"] for g in rest["items"]] == ["gw2"]
    assert "continue" not in rest["metadata"]


async def test_watch_cluster_scoped_kind_from_a_version(client: Client) -> None:
    classes = "/apis/gateway.networking.k8s.io/v1/gatewayclasses"
    _, listing, _ = await client.request("GET", classes)
    rv = listing["metadata"]["resourceVersion"]
    await client.request("POST", classes, {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "gc1"}, "spec": {"controllerName": "example.com/gateway"}})
    events = await read_events(client, f"{classes}?watch=true&resourceVersion={rv}", 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "gc1"


async def test_secrets_are_selected_by_type_as_on_a_cluster(client: Client) -> None:
    secrets = "/api/v1/namespaces/default/secrets"
    for name, kind in (("cert", "kubernetes.io/tls"), ("token", "Opaque")):
        await client.request("POST", secrets, {"metadata": {"name": name}, "type": kind,
                                               "data": {}})
    _, tls, _ = await client.request("GET", f"{secrets}?fieldSelector=type%3Dkubernetes.io%2Ftls")
    assert [s["metadata"]["name"] for s in tls["items"]] == ["cert"]
    _, other, _ = await client.request("GET", f"{secrets}?fieldSelector=type!%3Dkubernetes.io%2Ftls")
    assert [s["metadata"]["name"] for s in other["items"]] == ["token"]
    await client.request("POST", secrets, {"metadata": {"name": "untyped"}, "data": {}})
    _, opaque, _ = await client.request("GET", f"{secrets}?fieldSelector=type%3DOpaque")
    assert [s["metadata"]["name"] for s in opaque["items"]] == ["token", "untyped"]
    events = await read_events(client, f"{secrets}?watch=true&sendInitialEvents=true"
                                       "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
                                       "&fieldSelector=type%3Dkubernetes.io%2Ftls", 2)
    assert events[0]["object"]["metadata"]["name"] == "cert"
    assert events[1]["type"] == "BOOKMARK"
    status, body, _ = await client.request("GET", f"{SERVICES}?fieldSelector=type%3DClusterIP")
    assert status == 400 and "field label not supported: type" in body["message"]


async def test_a_burst_of_writes_reaches_a_watch_complete_and_in_order(client: Client) -> None:
    status, listing, _ = await client.request("GET", GATEWAYS)
    since = listing["metadata"]["resourceVersion"]
    watch = asyncio.create_task(read_events(
        client, f"{GATEWAYS}?watch=true&resourceVersion={since}&labelSelector=app%3Dweb", 30))
    await asyncio.sleep(0.2)
    await asyncio.gather(*(client.request("POST", GATEWAYS, gateway(f"gw{i}", app="web" if i % 2
                                                                    else "db"))
                           for i in range(60)))
    events = await watch
    assert [e["type"] for e in events] == ["ADDED"] * 30
    assert sorted(e["object"]["metadata"]["name"] for e in events) == \
        sorted(f"gw{i}" for i in range(1, 60, 2))
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)


async def test_a_whole_list_is_the_same_as_a_selected_one(client: Client) -> None:
    for i in range(3):
        await client.request("POST", GATEWAYS, gateway(f"gw{i}", app="web"))
    status, whole, resp = await client.request("GET", GATEWAYS)
    assert status == 200 and resp.headers["Content-Type"] == "application/json"
    _, selected, _ = await client.request("GET", f"{GATEWAYS}?labelSelector=app%3Dweb")
    assert whole == selected and [o["metadata"]["name"] for o in whole["items"]] == \
        ["gw0", "gw1", "gw2"]
    assert whole["kind"] == "GatewayList" and whole["metadata"]["resourceVersion"]
