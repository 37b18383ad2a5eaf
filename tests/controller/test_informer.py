"""The informer mirrors a kind through list+watch, survives dropped connections and 410 Gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.client import KubeClient
from propylon.informer import Informer
from tests.controller.fakeapi import FakeAPI
from tests.controller.helpers import eventually

GATEWAYS = "gateways"


def gateway(name: str, namespace: str = "default", cls: str = "propylon") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"gatewayClassName": cls, "listeners": []}}


@pytest.fixture
async def informer(fake: FakeAPI, fake_client: KubeClient) -> AsyncIterator[Informer]:
    fake.put(GATEWAYS, gateway("a"))
    fake.put(GATEWAYS, gateway("b", "other"))
    changes: list[int] = []
    inf = Informer(fake_client, by_kind("Gateway"), lambda: changes.append(1))
    inf.changes = changes  # type: ignore[attr-defined]
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.synced.wait(), 20)
    yield inf
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def names(inf: Informer) -> list[tuple[str, str]]:
    return sorted(inf.store)


async def test_list_then_watch_follows_adds_updates_deletes(fake: FakeAPI, informer: Informer) -> None:
    assert names(informer) == [("default", "a"), ("other", "b")]
    assert informer.get("default", "a")["spec"]["gatewayClassName"] == "propylon"  # type: ignore[index]
    await eventually(lambda: bool(fake._watchers), "the watch to start")

    fake.put(GATEWAYS, gateway("c"))
    await eventually(lambda: ("default", "c") in informer.store, "ADDED")
    fake.put(GATEWAYS, gateway("a", cls="changed"))
    await eventually(lambda: informer.store[("default", "a")]["spec"]["gatewayClassName"] == "changed",
                     "MODIFIED")
    fake.delete(GATEWAYS, "other", "b")
    await eventually(lambda: ("other", "b") not in informer.store, "DELETED")
    assert informer.changes  # type: ignore[attr-defined]
    assert isinstance(informer.store[("default", "a")], dict)
    watch_queries = [q for m, p, q in fake.requests if "watch=true" in q]
    assert all("allowWatchBookmarks=true" in q for q in watch_queries)


async def test_objects_are_in_name_order_and_kept_while_unchanged(
        fake: FakeAPI, informer: Informer) -> None:
    def listed() -> list[tuple[str, str, str]]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"], o["spec"]["gatewayClassName"])
                for o in informer.objects()]

    first = informer.objects()
    assert informer.objects() is first  # the translator tells unchanged objects by identity
    await eventually(lambda: bool(fake._watchers), "the watch to start")
    fake.put(GATEWAYS, gateway("b", "other", cls="edited"))
    await eventually(lambda: listed()[1][2] == "edited", "the edit")
    edited = informer.objects()
    assert edited[0] is first[0] and edited[1] is not first[1]
    fake.put(GATEWAYS, gateway("0"))
    fake.delete(GATEWAYS, "default", "a")
    await eventually(lambda: listed() == [("default", "0", "propylon"), ("other", "b", "edited")],
                     "the add and the delete, in name order")


async def test_bookmark_advances_resource_version(fake: FakeAPI, informer: Informer) -> None:
    await eventually(lambda: bool(fake._watchers), "the watch to start")
    fake.bookmark(GATEWAYS)
    await eventually(lambda: informer.resource_version == str(fake.rv), "the bookmark")


async def test_dropped_watch_resumes_from_last_version_without_relist(
        fake: FakeAPI, informer: Informer) -> None:
    await eventually(lambda: bool(fake._watchers), "the watch to start")
    fake.put(GATEWAYS, gateway("c"))
    await eventually(lambda: ("default", "c") in informer.store, "ADDED")
    last_seen = informer.resource_version

    fake.drop_watches()
    fake.put(GATEWAYS, gateway("d"))  # happens while the informer is disconnected
    await eventually(lambda: ("default", "d") in informer.store, "the event missed while down")

    assert informer.lists == 1
    resumed = [q for m, p, q in fake.requests if "watch=true" in q][-1]
    assert f"resourceVersion={last_seen}" in resumed


@pytest.mark.parametrize("as_event", [False, True], ids=["http-410", "error-event"])
async def test_gone_relists_and_drops_objects_deleted_meanwhile(
        fake: FakeAPI, informer: Informer, as_event: bool) -> None:
    fake.gone_as_event = as_event
    await eventually(lambda: bool(fake._watchers), "the watch to start")
    # No await between these lines: the informer cannot reconnect before history is compacted.
    fake.drop_watches()
    fake.delete(GATEWAYS, "default", "a")
    fake.put(GATEWAYS, gateway("new"))
    fake.compact()

    await eventually(lambda: informer.lists == 2, "the relist after 410 Gone")
    assert names(informer) == [("default", "new"), ("other", "b")]
    fake.put(GATEWAYS, gateway("after"))
    await eventually(lambda: ("default", "after") in informer.store, "watch after the relist")


async def test_unreachable_server_is_retried_until_it_answers(
        fake: FakeAPI, fake_client: KubeClient) -> None:
    inf = Informer(fake_client, by_kind("Gateway"))
    await fake.stop()  # nothing listens: the first list fails
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.sleep(0.3)
        assert not inf.synced.is_set()
        fake.put(GATEWAYS, gateway("late"))
        await fake.restart()
        await asyncio.wait_for(inf.synced.wait(), 20)
        assert names(inf) == [("default", "late")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_kind_not_served_counts_as_empty_until_installed(
        fake: FakeAPI, fake_client: KubeClient) -> None:
    fake.missing.add("listenersets")
    inf = Informer(fake_client, by_kind("ListenerSet"), absent_retry_s=0.05)
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.wait_for(inf.synced.wait(), 20)
        assert inf.store == {}
        fake.missing.clear()  # the CRD gets installed
        fake.put("listenersets", {"metadata": {"name": "ls", "namespace": "default"}})
        await eventually(lambda: ("default", "ls") in inf.store, "the kind to be listed")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
