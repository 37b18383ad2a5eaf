"""Cluster IPs: distinct, the lowest free first, freed by a delete, and known again after a
restart (the registry keeps the addresses in use in memory and learns them from storage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from propylon.api.kinds import by_kind
from propylon.apiserver.events import EventHub
from propylon.apiserver.registry import Registry
from propylon.apiserver.storage import Storage

SERVICE = by_kind("Service", "")


def registry(path: Path) -> Registry:
    storage = Storage(path / "state.db")
    return Registry(storage, EventHub(100, storage.resource_version), None)


async def create(reg: Registry, name: str, ip: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if ip:
        spec["clusterIP"] = ip
    obj, _ = await reg.create(SERVICE, "default", {"metadata": {"name": name}, "spec": spec},
                              {}, "Strict")
    return obj


async def test_lowest_free_address_first_and_reused_after_delete(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    ips = [(await create(reg, f"s{i}"))["spec"]["clusterIP"] for i in range(3)]
    assert ips == ["10.96.0.2", "10.96.0.3", "10.96.0.4"]
    await create(reg, "fixed", "10.96.0.5")  # chosen by the user: not handed out again
    await reg.delete(SERVICE, "default", "s1", None, {})
    assert (await create(reg, "again"))["spec"]["clusterIP"] == "10.96.0.3"
    assert (await create(reg, "next"))["spec"]["clusterIP"] == "10.96.0.6"
    dry, _ = await reg.create(SERVICE, "default", {"metadata": {"name": "dry"}, "spec": {}},
                              {"dryRun": "All"}, "Strict")
    assert dry["spec"]["clusterIP"] == "10.96.0.7"
    assert (await create(reg, "after-dry-run"))["spec"]["clusterIP"] == "10.96.0.7"
    reg.storage.close()

    restarted = registry(tmp_path)
    assert (await create(restarted, "later"))["spec"]["clusterIP"] == "10.96.0.8"
    restarted.storage.close()


async def test_deleting_a_namespace_frees_its_addresses(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    await reg.seed_namespace("default")
    await reg.seed_namespace("team")
    obj, _ = await reg.create(SERVICE, "team", {"metadata": {"name": "a"}, "spec": {}}, {},
                              "Strict")
    assert obj["spec"]["clusterIP"] == "10.96.0.2"
    await reg.delete(by_kind("Namespace", ""), "", "team", None, {})
    assert (await create(reg, "b"))["spec"]["clusterIP"] == "10.96.0.2"
    reg.storage.close()
