"""The status writer skips no-ops, keeps other controllers' entries, retries conflicts, coalesces.

The writer and its informers talk to the real embedded API server through `FaultProxy`, which
counts their requests; conflicts are real: another write lands just before the writer's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from propylon.api.kinds import KindInfo, by_kind
from propylon.client import PatchType, resource_class
from propylon.controller.status import StatusWriter
from propylon.informer import Informer
from propylon.translate.statusmerge import wanted_status
from propylon.translate.types import WRITE_TIME, StatusUpdate
from tests.controller.conftest import Api
from tests.controller.helpers import JSONStatus, eventually

OURS = "propylon.dev/gateway-controller"
GW_API = "gateway.networking.k8s.io/v1"


def condition(type_: str, status: str, time: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": type_, "message": "",
            "observedGeneration": 1, "lastTransitionTime": time}


def parent(gateway: str, controller: str, accepted: str = "True") -> dict[str, Any]:
    return {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway},
            "controllerName": controller, "conditions": [condition("Accepted", accepted)]}


GATEWAY = {"apiVersion": GW_API, "kind": "Gateway",
           "metadata": {"name": "gw", "namespace": "default"},
           "spec": {"gatewayClassName": "propylon",
                    "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
ROUTE = {"apiVersion": GW_API, "kind": "HTTPRoute",
         "metadata": {"name": "r", "namespace": "default"}, "spec": {}}


class Harness:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.informers = {k: Informer(api.proxied, by_kind(k)) for k in ("Gateway", "HTTPRoute")}
        self.writer = StatusWriter(api.proxied, self.lookup, OURS, retry_s=0.1)
        self.tasks = [asyncio.create_task(i.run()) for i in self.informers.values()]
        self.tasks.append(asyncio.create_task(self.writer.run()))

    def lookup(self, info: KindInfo, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.informers[info.kind].get(namespace, name)

    async def write(self, *updates: StatusUpdate) -> None:
        self.writer.submit(updates)
        await asyncio.wait_for(self.writer.wait_idle(), 20)

    def puts(self) -> int:
        return self.api.proxy.count("PUT", "/status")


async def set_status(api: Api, kind: str, name: str, status: dict[str, Any]) -> None:
    """Another writer replaces the object's status (a JSON merge patch, as kubectl would)."""
    current = await stored(api, kind, name)
    await api.client.patch(resource_class(by_kind(kind)).Status, name,
                           {"status": {**{k: None for k in current}, **status}},
                           namespace="default", patch_type=PatchType.MERGE)


@pytest.fixture
async def h(api: Api) -> AsyncIterator[Harness]:
    await api.put(GATEWAY)
    await api.put(ROUTE)
    await set_status(api, "Gateway", "gw", {"conditions": [condition("Accepted", "True")]})
    await set_status(api, "HTTPRoute", "r", {"parents": [parent("other-gw", "example.com/other"),
                                                         parent("gw", OURS, "False")]})
    harness = Harness(api)
    for inf in harness.informers.values():
        await asyncio.wait_for(inf.synced.wait(), 20)
    yield harness
    for t in harness.tasks:
        t.cancel()
    await asyncio.gather(*harness.tasks, return_exceptions=True)


def gw_update(status: dict[str, Any]) -> StatusUpdate:
    return StatusUpdate(GW_API, "Gateway", "default", "gw", 1, JSONStatus(status))


async def stored(api: Api, kind: str, name: str) -> dict[str, Any]:
    obj = await api.client.get(resource_class(by_kind(kind)), name, namespace="default")
    return dict(obj.get("status") or {})


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
    assert await stored(h.api, "Gateway", "gw") == new
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    await h.write(gw_update(new))
    assert h.puts() == 1


async def test_a_condition_that_changed_gets_the_time_of_the_write(h: Harness) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    await h.write(gw_update({"conditions": [condition("Accepted", "True", WRITE_TIME),
                                            condition("Programmed", "True", WRITE_TIME)]}))
    accepted, programmed = (await stored(h.api, "Gateway", "gw"))["conditions"]
    assert accepted["lastTransitionTime"] == "2024-01-01T00:00:00Z"  # its status did not change
    written = datetime.strptime(programmed["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= written.replace(tzinfo=UTC) <= datetime.now(UTC)


async def test_route_parents_of_other_controllers_are_kept(h: Harness) -> None:
    ours = parent("gw", OURS, "True")
    await h.write(StatusUpdate(GW_API, "HTTPRoute", "default", "r", 1,
                                JSONStatus({"parents": [ours]})))
    assert (await stored(h.api, "HTTPRoute", "r"))["parents"] == \
        [parent("other-gw", "example.com/other"), ours]


async def test_conflict_is_retried_after_reading_again(h: Harness) -> None:
    async def meanwhile() -> None:  # another writer changes the object just before ours
        await h.api.client.patch(resource_class(by_kind("Gateway")), "gw",
                                 {"metadata": {"labels": {"edits": str(h.puts())}}},
                                 namespace="default", patch_type=PatchType.MERGE)
    h.api.proxy.before("PUT", "/gateways/gw/status", meanwhile, times=2)
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    assert await stored(h.api, "Gateway", "gw") == new
    assert h.puts() == 3
    assert h.writer.conflicts == 2
    assert h.api.proxy.count("GET", "/gateways/gw") == 2


async def test_latest_update_of_an_object_wins(h: Harness) -> None:
    first = {"conditions": [condition("Accepted", "False")]}
    last = {"conditions": [condition("Accepted", "Unknown")]}
    await h.write(gw_update(first), gw_update(last))
    assert await stored(h.api, "Gateway", "gw") == last
    assert h.puts() == 1


async def test_deleted_object_is_dropped(h: Harness) -> None:
    h.api.proxy.hold_watches()  # the informers miss the deletion: still in their store
    await h.api.delete(GATEWAY)
    assert h.informers["Gateway"].get("default", "gw") is not None
    await h.write(gw_update({"conditions": []}))
    assert h.writer.writes == 0
    assert h.puts() == 1  # answered 404, dropped without retrying
    h.api.proxy.release_watches()


def test_transition_time_changes_only_with_status() -> None:
    current = {"conditions": [condition("Accepted", "True", "T0")]}
    flipped = wanted_status(
        current, JSONStatus({"conditions": [condition("Accepted", "False", "T1")]}), OURS)
    assert flipped["conditions"][0]["lastTransitionTime"] == "T1"
    same = wanted_status(
        current, JSONStatus({"conditions": [condition("Accepted", "True", "T1")]}), OURS)
    assert same["conditions"][0]["lastTransitionTime"] == "T0"


async def test_own_writes_come_back_as_echoes_and_others_do_not(h: Harness) -> None:
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    echo = gw.get("default", "gw")
    assert echo is not None and h.writer.is_echo("Gateway", echo)
    await set_status(h.api, "Gateway", "gw", {"conditions": [condition("Accepted", "True")]})
    await eventually(lambda: gw.get("default", "gw")["status"] != new, "the foreign write")  # type: ignore[index]
    assert not h.writer.is_echo("Gateway", gw.get("default", "gw"))  # type: ignore[arg-type]


async def test_a_settled_update_is_not_computed_again(h: Harness) -> None:
    new = {"conditions": [condition("Accepted", "False")]}
    await h.write(gw_update(new))
    gw = h.informers["Gateway"]
    await eventually(lambda: gw.get("default", "gw")["status"] == new, "the store to catch up")  # type: ignore[index]
    h.writer.submit([gw_update(new)])
    assert not h.writer._pending  # the stored object is the version that update produced
    await set_status(h.api, "Gateway", "gw", {"conditions": [condition("Accepted", "True")]})
    await eventually(lambda: gw.get("default", "gw")["status"] != new, "the foreign write")  # type: ignore[index]
    await h.write(gw_update(new))  # someone else changed it: written again
    assert await stored(h.api, "Gateway", "gw") == new


class SlowServer:
    """A stand-in for the client: status writes wait for `release`, objects live in `objects`."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.writes: list[tuple[str, str]] = []  # (name, resourceVersion sent)
        self.version = 100

    def add(self, name: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
        self.version += 1
        obj = {"apiVersion": GW_API, "kind": "HTTPRoute", "spec": {"hostnames": ["a"]},
               "metadata": {"name": name, "namespace": "default",
                            "resourceVersion": str(self.version)}}
        if status is not None:
            obj["status"] = status
        self.objects[name] = obj
        return obj

    async def replace(self, body: Any, name: str, namespace: str | None) -> dict[str, Any]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        sent = dict(body)
        self.writes.append((name, sent["metadata"]["resourceVersion"]))
        stored = self.objects[name]
        assert sent["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
        self.version += 1
        new = {**stored, "status": sent["status"],
               "metadata": {**stored["metadata"], "resourceVersion": str(self.version)}}
        self.objects[name] = new
        return new

    async def get(self, res: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.objects[name]


def route_update(name: str, accepted: str) -> StatusUpdate:
    return StatusUpdate(GW_API, "HTTPRoute", "default", name, 1,
                        JSONStatus({"parents": [parent("gw", OURS, accepted)]}))


async def test_a_backlog_is_written_a_few_objects_at_a_time() -> None:
    server = SlowServer()
    store = {f"r{i}": server.add(f"r{i}") for i in range(10)}
    writer = StatusWriter(server, lambda info, ns, name: store.get(name), OURS,  # type: ignore[arg-type]
                          concurrency=3)
    task = asyncio.create_task(writer.run())
    writer.submit([route_update(f"r{i}", "True") for i in range(10)])
    await eventually(lambda: server.in_flight == 3, "three writes in flight")
    await asyncio.sleep(0.05)
    assert server.in_flight == 3  # never more
    writer.submit([route_update("r0", "False")])  # r0 is being written: it waits for its turn
    server.release.set()
    await asyncio.wait_for(writer.wait_idle(), 5)
    task.cancel()
    assert server.most_in_flight == 3
    assert sorted(n for n, _ in server.writes) == sorted([f"r{i}" for i in range(10)] + ["r0"])
    assert server.objects["r0"]["status"]["parents"][0]["conditions"][0]["status"] == "False"
    assert writer.conflicts == 0


async def test_a_second_write_before_the_watch_catches_up_does_not_conflict() -> None:
    server = SlowServer()
    server.release.set()
    stale = server.add("r")
    writer = StatusWriter(server, lambda info, ns, name: stale, OURS)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit([route_update("r", "True")])
    await asyncio.wait_for(writer.wait_idle(), 5)
    writer.submit([route_update("r", "False")])  # the store still holds the version before
    await asyncio.wait_for(writer.wait_idle(), 5)
    task.cancel()
    assert writer.conflicts == 0 and writer.writes == 2
    assert server.writes[1][1] != stale["metadata"]["resourceVersion"]  # written over the answer


async def test_the_echo_of_a_write_in_flight_is_recognised() -> None:
    server = SlowServer()
    old = server.add("r")
    writer = StatusWriter(server, lambda info, ns, name: old, OURS)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit([route_update("r", "True")])
    await eventually(lambda: server.in_flight == 1, "the write in flight")
    status = {"parents": [parent("gw", OURS, "True")]}
    echo = {**old, "status": status, "metadata": {**old["metadata"], "resourceVersion": "999"}}
    assert writer.is_echo("HTTPRoute", echo)
    assert not writer.is_echo("HTTPRoute", {**echo, "spec": {"hostnames": ["b"]}})  # and a spec change
    assert not writer.is_echo("HTTPRoute", {**echo, "status": {"parents": []}})
    server.release.set()
    await asyncio.wait_for(writer.wait_idle(), 5)
    task.cancel()
    assert not writer.is_echo("HTTPRoute", echo)  # the write returned another version
    assert writer.is_echo("HTTPRoute", server.objects["r"])


def test_wanted_status_leaves_its_inputs_alone() -> None:
    current = {"parents": [parent("other-gw", "example.com/other"), parent("gw", OURS, "True")]}
    update = {"parents": [{**parent("gw", OURS, "True"),
                           "conditions": [condition("Accepted", "True", "T9")]}]}
    before = (repr(current), repr(update))
    wanted = wanted_status(current, JSONStatus(update), OURS)
    assert (repr(current), repr(update)) == before
    assert wanted == current  # only the time differed: the status stays as it is
    flipped = wanted_status(current, JSONStatus({"parents": [parent("gw", OURS, "False")]}),
                            OURS)
    assert flipped["parents"][0] == current["parents"][0]  # other controllers' entries kept
    assert flipped["parents"][1]["conditions"][0]["status"] == "False"
    assert (repr(current), repr(update)) == before


def test_a_policy_none_of_whose_ancestors_is_ours_is_not_written() -> None:
    theirs = {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "name": "eg-gateway"},
              "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
              "conditions": [condition("Accepted", "True")]}
    assert wanted_status(None, JSONStatus({"ancestors": []}), OURS) == {}
    assert wanted_status({"ancestors": [theirs]}, JSONStatus({"ancestors": []}), OURS) \
        == {"ancestors": [theirs]}
    ours = {**theirs, "controllerName": OURS}
    # our entry, once the policy no longer targets our Gateway, is removed; theirs kept
    assert wanted_status({"ancestors": [theirs, ours]}, JSONStatus({"ancestors": []}), OURS) \
        == {"ancestors": [theirs]}
    assert wanted_status({"ancestors": [ours]}, JSONStatus({"ancestors": []}), OURS) \
        == {"ancestors": []}
