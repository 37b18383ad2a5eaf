"""The status writer skips no-ops, keeps other controllers' entries, retries conflicts, coalesces."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import lightkube
import pytest

from propylon.api.kinds import KindInfo, by_kind
from propylon.controller.informer import Informer
from propylon.controller.status import StatusWriter, wanted_status
from propylon.translate.types import StatusUpdate
from tests.controller.fakeapi import FakeAPI
from tests.controller.helpers import eventually

OURS = "propylon.dev/gateway-controller"
GW_API = "gateway.networking.k8s.io/v1"


def condition(type_: str, status: str, time: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": type_, "message": "",
            "observedGeneration": 1, "lastTransitionTime": time}


def parent(gateway: str, controller: str, accepted: str = "True") -> dict[str, Any]:
    return {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway},
            "controllerName": controller, "conditions": [condition("Accepted", accepted)]}


class Harness:
    def __init__(self, fake: FakeAPI, client: lightkube.AsyncClient) -> None:
        self.fake = fake
        self.informers = {k: Informer(client, by_kind(k)) for k in ("Gateway", "HTTPRoute")}
        self.writer = StatusWriter(client, self.lookup, OURS, retry_s=0.1)
        self.tasks = [asyncio.create_task(i.run()) for i in self.informers.values()]
        self.tasks.append(asyncio.create_task(self.writer.run()))

    def lookup(self, info: KindInfo, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.informers[info.kind].get(namespace, name)

    async def write(self, *updates: StatusUpdate) -> None:
        self.writer.submit(updates)
        await asyncio.wait_for(self.writer.wait_idle(), 20)

    def puts(self) -> int:
        return self.fake.count("PUT", "/status")


@pytest.fixture
async def h(fake: FakeAPI, fake_client: lightkube.AsyncClient) -> AsyncIterator[Harness]:
    fake.put("gateways", {"metadata": {"name": "gw", "namespace": "default"},
                          "status": {"conditions": [condition("Accepted", "True")]}})
    fake.put("httproutes", {"metadata": {"name": "r", "namespace": "default"},
                            "status": {"parents": [parent("other-gw", "example.com/other"),
                                                   parent("gw", OURS, "False")]}})
    harness = Harness(fake, fake_client)
    for inf in harness.informers.values():
        await asyncio.wait_for(inf.synced.wait(), 20)
    yield harness
    for t in harness.tasks:
        t.cancel()
    await asyncio.gather(*harness.tasks, return_exceptions=True)


def gw_update(status: dict[str, Any]) -> StatusUpdate:
    return StatusUpdate(GW_API, "Gateway", "default", "gw", 1, status)


def stored(fake: FakeAPI, plural: str, name: str) -> dict[str, Any]:
    return fake.objects[(plural, "default", name)]["status"]


async def test_unchanged_status_is_not_written(h: Harness) -> None:
    await h.write(gw_update({"conditions": [condition("Accepted", "True")]}))
    assert h.puts() == 0
    # Only the time differs: the condition did not transition, so nothing to write either.
    await h.write(gw_update({"conditions": [condition("Accepted", "True", "2030-01-01T00:00:00Z")]}))
    assert h.puts() == 0


async def test_changed_status_is_written_once(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    new = {"conditions": [condition("Accepted", "True"), condition("Programmed", "True")],
           "addresses": [{"type": "IPAddress", "value": "127.0.0.10"}]}
    await h.write(gw_update(new))
    assert h.puts() == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert stored(h.fake, "gateways", "gw") == new
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    await h.write(gw_update(new))
    assert h.puts() == 1


async def test_route_parents_of_other_controllers_are_kept(h: Harness) -> None:
    ours = parent("gw", OURS, "True")
    await h.write(StatusUpdate(GW_API, "HTTPRoute", "default", "r", 1, {"parents": [ours]}))
    assert stored(h.fake, "httproutes", "r")["parents"] == [parent("other-gw", "example.com/other"), ours]


async def test_conflict_is_retried_after_reading_again(h: Harness) -> None:
    h.fake.conflicts = 2
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    assert stored(h.fake, "gateways", "gw") == new
    assert h.puts() == 3
    assert h.fake.count("GET", "/gateways/gw") == 2


async def test_latest_update_of_an_object_wins(h: Harness) -> None:
    first = {"conditions": [condition("Accepted", "False")]}
    last = {"conditions": [condition("Accepted", "Unknown")]}
    await h.write(gw_update(first), gw_update(last))
    assert stored(h.fake, "gateways", "gw") == last
    assert h.puts() == 1


async def test_deleted_object_is_dropped(h: Harness) -> None:
    h.fake.objects.pop(("gateways", "default", "gw"))  # gone from the server, still in the store
    await h.write(gw_update({"conditions": []}))
    assert h.writer.writes == 0


def test_transition_time_changes_only_with_status() -> None:
    current = {"conditions": [condition("Accepted", "True", "T0")]}
    flipped = wanted_status(current, {"conditions": [condition("Accepted", "False", "T1")]}, OURS)
    assert flipped["conditions"][0]["lastTransitionTime"] == "T1"
    same = wanted_status(current, {"conditions": [condition("Accepted", "True", "T1")]}, OURS)
    assert same["conditions"][0]["lastTransitionTime"] == "T0"


async def test_own_writes_come_back_as_echoes_and_others_do_not(h: Harness) -> None:
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    echo = gw.get("default", "gw")
    assert echo is not None and h.writer.is_echo("Gateway", echo)
    h.fake.put("gateways", {"metadata": {"name": "gw", "namespace": "default"},
                            "status": {"conditions": [condition("Accepted", "True")]}})
    await eventually(lambda: gw.get("default", "gw")["status"] != new, "the foreign write")  # type: ignore[index]
    assert not h.writer.is_echo("Gateway", gw.get("default", "gw"))  # type: ignore[arg-type]


async def test_a_settled_update_is_not_computed_again(h: Harness) -> None:
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    h.writer.submit([gw_update(new)])
    assert not h.writer._pending  # the stored object is the version that update produced
    h.fake.put("gateways", {"metadata": {"name": "gw", "namespace": "default"},
                            "status": {"conditions": [condition("Accepted", "True")]}})
    await eventually(lambda: gw.get("default", "gw")["status"] != new, "the foreign write")  # type: ignore[index]
    await h.write(gw_update(new))  # someone else changed it: written again
    assert stored(h.fake, "gateways", "gw") == new
