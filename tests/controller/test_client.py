"""load_client finds the configuration like kubectl; resource_class addresses every kind; the
client's refusals and transport failures are our exceptions; its watch follows from a version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from propylon.api.kinds import KINDS, by_kind
from propylon.client import (
    ClientConfigError,
    KubeClient,
    KubeError,
    KubeUnreachable,
    load_client,
    load_kubeconfig,
    resource_class,
)
from tests.controller.conftest import Api

CONFIG_MAP = by_kind("ConfigMap")


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(f"""\
apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
""")
    return path


def test_explicit_path_wins_over_kubeconfig_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "env", "https://127.0.0.2:1")))
    explicit = kubeconfig(tmp_path / "explicit", "https://127.0.0.3:1")
    assert load_kubeconfig(explicit).cluster.server == "https://127.0.0.3:1"


def test_first_file_of_kubeconfig_list_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "first", "https://127.0.0.4:1")
    second = kubeconfig(tmp_path / "second", "https://127.0.0.5:1")
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    assert load_kubeconfig().cluster.server == "https://127.0.0.4:1"


def test_missing_kubeconfig_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ClientConfigError, match=r"absent does not exist: pass --kubeconfig"):
        load_kubeconfig()


def test_invalid_kubeconfig_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("clusters: 3\n")
    with pytest.raises(ClientConfigError, match="not a valid kubeconfig"):
        load_kubeconfig(bad)


def test_every_kind_has_one_cached_generic_class() -> None:
    for info in KINDS:
        cls = resource_class(info)
        assert cls is resource_class(info)
        assert cls._api_info.plural == info.plural
        assert cls(apiVersion=info.api_version, kind=info.kind)["kind"] == info.kind
    assert resource_class(by_kind("Gateway")).__name__ == "Gateway"


async def test_a_refusal_keeps_the_servers_code_reason_and_message(kube_client: KubeClient) -> None:
    with pytest.raises(KubeError) as refused:
        await kube_client.get(resource_class(CONFIG_MAP), "absent", namespace="default")
    assert (refused.value.code, refused.value.reason) == (404, "NotFound")
    assert "absent" in refused.value.message


async def test_no_server_is_unreachable_not_a_refusal(tmp_path: Path) -> None:
    client = load_client(kubeconfig(tmp_path / "config", "https://127.0.0.1:1"))
    try:
        with pytest.raises(KubeUnreachable):
            await client.get(resource_class(CONFIG_MAP), "any", namespace="default")
    finally:
        await client.close()


async def test_watch_sends_what_changed_after_the_listed_version(kube_client: KubeClient) -> None:
    res = resource_class(CONFIG_MAP)
    before = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "first", "namespace": "default"}}
    await kube_client.create(res(before), namespace="default")
    listing = await kube_client.list(res, namespace="*")
    assert [o["metadata"]["name"] for o in listing.items] == ["first"]
    after = dict(before, metadata={"name": "second", "namespace": "default"}, data={"k": "v"})
    await kube_client.create(res(after), namespace="default")
    events = kube_client.watch(CONFIG_MAP, resource_version=listing.resource_version,
                               timeout_s=60)
    async for event_type, obj in events:
        assert (event_type, obj["metadata"]["name"], obj["data"]) == ("ADDED", "second", {"k": "v"})
        break
    await events.aclose()


async def test_an_answer_that_is_no_status_is_quoted_in_the_error(api: Api) -> None:
    api.proxy.answer("GET", "/configmaps/any", 502, "upstream connect error", times=2)
    for read in (api.proxied.get(resource_class(CONFIG_MAP), "any", namespace="default"),
                 api.proxied.read(CONFIG_MAP, "default", "any")):
        with pytest.raises(KubeError) as refused:
            await read
        assert (refused.value.code, refused.value.reason) == (502, "")
        assert refused.value.message == "the server answered 502: upstream connect error"


async def test_an_invalid_object_keeps_the_servers_causes(kube_client: KubeClient) -> None:
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "bad", "namespace": "default"},
               "spec": {"gatewayClassName": "propylon",
                        "listeners": [{"name": "http", "port": 0, "protocol": "HTTP"}]}}
    with pytest.raises(KubeError) as refused:
        await kube_client.apply(resource_class(by_kind("Gateway"))(gateway),
                                field_manager="test")
    assert (refused.value.code, refused.value.reason) == (422, "Invalid")
    assert refused.value.details["name"] == "bad"
    assert [c["field"] for c in refused.value.details["causes"]] == ["spec.listeners[0].port"]
