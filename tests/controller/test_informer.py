"""The informer mirrors a kind through list+watch, survives dropped connections and 410 Gone.

It runs against the real embedded API server through `FaultProxy`, which breaks or holds its
watch connections where a test needs it; the test changes the server directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api.kinds import KindInfo, by_kind
from propylon.apiserver import APIServer
from propylon.client import load_client, resource_class
from propylon.informer import Informer
from tests.controller.conftest import EVENT_HISTORY, Api
from tests.controller.helpers import eventually
from tests.shared_data import shared

CRD = KindInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
               "customresourcedefinitions", "customresourcedefinition", False)


def gateway(name: str, namespace: str = "default", cls: str = "propylon") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"gatewayClassName": cls,
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def config_map(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}}


@pytest.fixture
async def informer(api: Api) -> AsyncIterator[Informer]:
    await api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    await api.put(gateway("a"))
    await api.put(gateway("b", "other"))
    changes: list[int] = []
    inf = Informer(api.proxied, by_kind("Gateway"), lambda: changes.append(1))
    inf.changes = changes  # type: ignore[attr-defined]
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.synced.wait(), 20)
    await eventually(lambda: api.proxy.watches == 1, "the watch to start")
    yield inf
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def names(inf: Informer) -> list[tuple[str, str]]:
    return sorted(inf.store)


async def test_list_then_watch_follows_adds_updates_deletes(api: Api, informer: Informer) -> None:
    assert names(informer) == [("default", "a"), ("other", "b")]
    assert informer.get("default", "a")["spec"]["gatewayClassName"] == "propylon"  # type: ignore[index]

    await api.put(gateway("c"))
    await eventually(lambda: ("default", "c") in informer.store, "ADDED")
    await api.put(gateway("a", cls="changed"))
    await eventually(lambda: informer.store[("default", "a")]["spec"]["gatewayClassName"] == "changed",
                     "MODIFIED")
    await api.delete(gateway("b", "other"))
    await eventually(lambda: ("other", "b") not in informer.store, "DELETED")
    assert informer.changes  # type: ignore[attr-defined]
    assert isinstance(informer.store[("default", "a")], dict)
    assert api.proxy.watch_queries()
    assert all("allowWatchBookmarks=true" in q for q in api.proxy.watch_queries())


async def test_objects_are_in_name_order_and_kept_while_unchanged(
        api: Api, informer: Informer) -> None:
    def listed() -> list[tuple[str, str, str]]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"], o["spec"]["gatewayClassName"])
                for o in informer.objects()]

    first = informer.objects()
    assert informer.objects() is first  # the translator tells unchanged objects by identity
    await api.put(gateway("b", "other", cls="edited"))
    await eventually(lambda: listed()[1][2] == "edited", "the edit")
    edited = informer.objects()
    assert edited[0] is first[0] and edited[1] is not first[1]
    await api.put(gateway("0"))
    await api.delete(gateway("a"))
    await eventually(lambda: listed() == [("default", "0", "propylon"), ("other", "b", "edited")],
                     "the add and the delete, in name order")


async def test_bookmark_advances_resource_version(api: Api, informer: Informer) -> None:
    # A ConfigMap is no Gateway event: only a bookmark can bring its resourceVersion.
    written = await api.put(config_map("elsewhere"))
    version = written["metadata"]["resourceVersion"]
    await eventually(lambda: informer.resource_version == version, "the bookmark")
    assert names(informer) == [("default", "a"), ("other", "b")]


async def test_dropped_watch_resumes_from_last_version_without_relist(
        api: Api, informer: Informer) -> None:
    await api.put(gateway("c"))
    await eventually(lambda: ("default", "c") in informer.store, "ADDED")
    last_seen = informer.resource_version

    api.proxy.hold_watches()
    await api.put(gateway("d"))  # happens while the informer is disconnected
    api.proxy.release_watches()
    await eventually(lambda: ("default", "d") in informer.store, "the event missed while down")

    assert informer.lists == 1
    assert f"resourceVersion={last_seen}" in api.proxy.watch_queries()[-1]


@pytest.mark.parametrize("as_event", [False, True], ids=["http-410", "error-event"])
async def test_gone_relists_and_drops_objects_deleted_meanwhile(
        api: Api, informer: Informer, as_event: bool) -> None:
    api.proxy.hold_watches()
    await api.delete(gateway("a"))
    await api.put(gateway("new"))
    for i in range(EVENT_HISTORY):  # more events than the server keeps: the version expires
        await api.put(config_map(f"filler-{i}"))
    if not as_event:  # the server answers with an ERROR event; some answer HTTP 410 instead
        api.proxy.answer("GET", "/gateways", 410, {
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
            "reason": "Expired", "message": "too old resource version"})
    api.proxy.release_watches()

    await eventually(lambda: informer.lists == 2, "the relist after 410 Gone")
    assert names(informer) == [("default", "new"), ("other", "b")]
    await api.put(gateway("after"))
    await eventually(lambda: ("default", "after") in informer.store, "watch after the relist")


async def test_unreachable_server_is_retried_until_it_answers(api: Api) -> None:
    await api.put(gateway("late"))
    inf = Informer(api.client, by_kind("Gateway"))
    await api.server.stop()  # nothing listens: the first list fails
    task = asyncio.create_task(inf.run())
    try:
        await eventually(lambda: inf.watch_restarts >= 2, "two failed attempts")
        assert not inf.synced.is_set()
        await api.server.start()  # same state, same port
        await asyncio.wait_for(inf.synced.wait(), 20)
        assert names(inf) == [("default", "late")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def listenerset_crd() -> dict[str, Any]:
    bundle = shared("gateway-api", "crds", "v1.6.1", "standard-install.yaml")
    return next(doc for doc in yaml.safe_load_all(bundle.read_text())
                if doc and doc["metadata"]["name"] == "listenersets.gateway.networking.k8s.io")


async def test_kind_not_served_counts_as_empty_until_installed(tmp_path: Path) -> None:
    server = APIServer(tmp_path / "cluster", builtin_gateway_api=False)  # CRDs as on a cluster
    await server.start()
    client = load_client(server.kubeconfig_path)
    changes: list[bool | None] = []
    inf = Informer(client, by_kind("ListenerSet"), lambda: changes.append(inf.served),
                   absent_retry_s=0.05)
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.wait_for(inf.synced.wait(), 20)
        assert inf.store == {}
        assert inf.served is False
        await client.create(resource_class(CRD)(listenerset_crd()))
        # served now, still empty: a change all the same (the controller says so in its log)
        await eventually(lambda: changes == [True], "the kind to be served")
        listener_set = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
                        "metadata": {"name": "ls", "namespace": "default"},
                        "spec": {"parentRef": {"name": "gw"}, "listeners": [
                            {"name": "http", "port": 8080, "protocol": "HTTP"}]}}
        await client.create(resource_class(by_kind("ListenerSet"))(listener_set))
        await eventually(lambda: ("default", "ls") in inf.store, "the kind to be listed")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        await server.stop()
