"""Loading manifests, server-side applying them, and keeping a directory applied (with pruning)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from propylon.api.kinds import by_kind
from propylon.api.validation import validate
from propylon.apiserver import APIServer
from propylon.client import KubeClient, KubeError, PatchType, load_client, resource_class
from propylon.manifests import (
    APPLIED_FROM,
    ManifestError,
    ManifestSync,
    apply_objects,
    load_manifests,
)

GATEWAY_YAML = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: {name}
spec:
  gatewayClassName: propylon
  listeners:
  - name: http
    port: {port}
    protocol: HTTP
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- loading ----------------------------------------------------------------------------------


def test_loads_documents_lists_and_directories_recursively(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GATEWAY_YAML.format(name="one", port=80) + "---\n---\n"
          + GATEWAY_YAML.format(name="two", port=81))
    write(tmp_path / "sub" / "b.yml", "apiVersion: v1\nkind: List\nitems:\n"
          "- {apiVersion: v1, kind: Service, metadata: {name: s1}}\n"
          "- {apiVersion: v1, kind: Service, metadata: {name: s2}}\n")
    write(tmp_path / "sub" / "c.json", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}))
    write(tmp_path / "notes.txt", "not a manifest")
    write(tmp_path / ".hidden" / "x.yaml", "garbage: [")

    found = load_manifests([tmp_path])

    assert [(m.source.name, m.index, m.line, m.obj["metadata"]["name"]) for m in found] == [
        ("a.yaml", 0, 1, "one"), ("a.yaml", 2, 13, "two"),
        ("b.yml", 0, 1, "s1"), ("b.yml", 0, 1, "s2"), ("c.json", 0, 1, "ns")]


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [x\n")
    with pytest.raises(ManifestError, match=rf"{bad}:\d+: malformed YAML"):
        load_manifests([bad])


@pytest.mark.parametrize(("text", "missing"), [
    ("kind: Service\nmetadata: {name: x}\n", "apiVersion"),
    ("apiVersion: v1\nmetadata: {name: x}\n", "kind"),
    ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "metadata.name"),
])
def test_object_without_identity_is_refused(tmp_path: Path, text: str, missing: str) -> None:
    f = write(tmp_path / "m.yaml", "---\n" + text)
    with pytest.raises(ManifestError, match=rf"{f}:2: .*no {missing}"):
        load_manifests([f])


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_manifests([tmp_path / "nope"])


# -- applying against the embedded API server ---------------------------------------------------


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[KubeClient]:
    server = APIServer(tmp_path / "api", validator=validate)
    await server.start()
    c = load_client(server.kubeconfig_path)
    yield c
    await c.close()
    await server.stop()


async def get_gateway(client: KubeClient, name: str) -> dict[str, Any] | None:
    try:
        return dict(await client.get(resource_class(by_kind("Gateway")), name, namespace="default"))
    except KubeError:
        return None


async def test_apply_creates_updates_and_reports_errors_per_object(
        client: KubeClient, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", GATEWAY_YAML.format(name="api-gateway", port=80) + "---\n"
              + GATEWAY_YAML.format(name="broken", port=0) + "---\n"
              + GATEWAY_YAML.format(name="other", port=81))
    outcomes = await apply_objects(client, load_manifests([f]))

    assert outcomes[0].message == "gateway.gateway.networking.k8s.io/api-gateway serverside-applied"
    assert not outcomes[1].ok
    assert f"{f}:" in outcomes[1].message and "broken" in outcomes[1].message
    assert "spec.listeners[0].port" in outcomes[1].message
    assert outcomes[2].ok and await get_gateway(client, "other") is not None

    write(f, GATEWAY_YAML.format(name="api-gateway", port=8080))
    (again,) = await apply_objects(client, load_manifests([f]))
    assert again.ok
    gw = await get_gateway(client, "api-gateway")
    assert gw is not None and gw["spec"]["listeners"][0]["port"] == 8080


# -- ManifestSync ---------------------------------------------------------------------------------


def touch_later(path: Path, text: str) -> None:
    """Rewrite a file so its modification time surely differs from the last one seen."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


async def test_sync_applies_reapplies_and_prunes(client: KubeClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    a = write(manifests / "a.yaml", GATEWAY_YAML.format(name="ga", port=80) + "---\n"
              + GATEWAY_YAML.format(name="gb", port=80))
    lines: list[str] = []
    state = tmp_path / "state" / "applied.json"
    sync = ManifestSync(client, [manifests], state, on_message=lines.append)

    await sync.sync_once()
    ga = await get_gateway(client, "ga")
    assert ga is not None and ga["metadata"]["annotations"][APPLIED_FROM] == str(a.resolve())
    assert "gateway.gateway.networking.k8s.io/gb serverside-applied" in lines

    touch_later(a, GATEWAY_YAML.format(name="ga", port=9090))  # gb removed from the file
    await sync.sync_once()
    assert await get_gateway(client, "gb") is None
    assert (await get_gateway(client, "ga"))["spec"]["listeners"][0]["port"] == 9090  # type: ignore[index]

    touch_later(a, "kind: [")  # a broken edit keeps what was applied
    await sync.sync_once()
    assert any("malformed YAML" in line for line in lines)
    assert await get_gateway(client, "ga") is not None

    a.unlink()
    await sync.sync_once()
    assert await get_gateway(client, "ga") is None


async def test_sync_never_prunes_objects_it_does_not_own(
        client: KubeClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    a = write(manifests / "a.yaml", GATEWAY_YAML.format(name="mine", port=80))
    sync = ManifestSync(client, [manifests], tmp_path / "applied.json")
    await sync.sync_once()
    # Created with kubectl, outside the manifests: never touched.
    (user,) = await apply_objects(client, [{**load_manifests([a])[0].obj,
                                            "metadata": {"name": "users"}}], field_manager="kubectl")
    assert user.ok
    # Taken over with kubectl (annotation removed): forgotten, not deleted.
    gw_class = resource_class(by_kind("Gateway"))
    await client.patch(gw_class, "mine", {"metadata": {"annotations": {APPLIED_FROM: None}}},
                       namespace="default", patch_type=PatchType.MERGE)
    a.unlink()
    await sync.sync_once()
    assert await get_gateway(client, "mine") is not None
    assert await get_gateway(client, "users") is not None


async def test_sync_prunes_a_file_removed_while_stopped(
        client: KubeClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    a = write(manifests / "a.yaml", GATEWAY_YAML.format(name="ga", port=80))
    write(manifests / "b.yaml", GATEWAY_YAML.format(name="gb", port=80))
    state = tmp_path / "applied.json"
    await ManifestSync(client, [manifests], state).sync_once()
    a.unlink()  # while no sync runs

    restarted = ManifestSync(client, [manifests], state)
    await restarted.sync_once()
    assert await get_gateway(client, "ga") is None
    assert await get_gateway(client, "gb") is not None


async def test_sync_run_picks_up_new_files(client: KubeClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    sync = ManifestSync(client, [manifests], tmp_path / "applied.json", poll_s=0.05)
    task = asyncio.create_task(sync.run())
    try:
        write(manifests / "new.yaml", GATEWAY_YAML.format(name="late", port=80))
        for _ in range(400):
            if await get_gateway(client, "late") is not None:
                break
            await asyncio.sleep(0.05)
        assert await get_gateway(client, "late") is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_sync_keeps_what_kubectl_added_and_takes_over_the_legacy_manager(
        client: KubeClient, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    state = tmp_path / "applied.json"
    two = GATEWAY_YAML.format(name="gw", port=80) + "  - {name: web, port: 81, protocol: HTTP}\n"
    a = write(manifests / "a.yaml", two)
    # as an older `propylon up -f` left it: applied as the manager `propylon`
    legacy = ManifestSync(client, [manifests], state, field_manager="propylon")
    await legacy.sync_once()
    await client.patch(resource_class(by_kind("Gateway")), "gw", [
        {"op": "add", "path": "/spec/listeners/-",
         "value": {"name": "patched", "port": 82, "protocol": "HTTP"}}],
        namespace="default", patch_type=PatchType.JSON,
        field_manager="kubectl-patch")

    touch_later(a, GATEWAY_YAML.format(name="gw", port=80))  # `web` removed from the file
    await ManifestSync(client, [manifests], state).sync_once()
    gw = await get_gateway(client, "gw")
    assert gw is not None
    assert [item["name"] for item in gw["spec"]["listeners"]] == ["http", "patched"]
    managers = {(e["manager"], e["operation"]) for e in gw["metadata"]["managedFields"]}
    assert managers == {("propylon-up", "Apply"), ("kubectl-patch", "Update")}
