"""The real kubectl binary against the embedded API server: every command users rely on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from .conftest import GATEWAYS, Client, Kubectl, gateway

GW_YAML = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw1
  labels: {app: web}
spec:
  gatewayClassName: embedded
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: Service
metadata:
  name: svc1
spec:
  ports:
  - {name: http, port: 80}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    return str(path)


async def test_api_resources(kubectl: Kubectl) -> None:
    out = await kubectl.ok("api-resources")
    row = next(line.split() for line in out.splitlines() if line.startswith("gateways "))
    assert row == ["gateways", "gtw", "gateway.networking.k8s.io/v1", "true", "Gateway"]
    assert any(line.split()[:2] == ["services", "svc"] for line in out.splitlines())


async def test_apply_twice_then_server_side(kubectl: Kubectl, tmp_path: Path) -> None:
    out = await kubectl.ok("apply", "-f", write(tmp_path, GW_YAML))
    assert "gateway.gateway.networking.k8s.io/gw1 created" in out
    assert "service/svc1 created" in out
    changed = GW_YAML.replace("port: 80", "port: 81")
    out = await kubectl.ok("apply", "-f", write(tmp_path, changed))
    assert "configured" in out
    svc = json.loads(await kubectl.ok("get", "svc", "svc1", "-o", "json"))
    assert [p["port"] for p in svc["spec"]["ports"]] == [81]
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    gw = json.loads(await kubectl.ok("get", "gateway", "gw1", "-o", "json"))
    assert gw["spec"]["listeners"][0]["port"] == 81
    assert gw["metadata"]["generation"] == 2
    out = await kubectl.ok("apply", "--server-side", "-f", write(tmp_path, changed))
    assert "gateway.gateway.networking.k8s.io/gw1 serverside-applied" in out


async def test_server_side_apply_creates(kubectl: Kubectl, tmp_path: Path) -> None:
    out = await kubectl.ok("apply", "--server-side", "-f", write(tmp_path, GW_YAML))
    assert "gw1 serverside-applied" in out
    assert "gw1" in await kubectl.ok("get", "gtw", "-o", "name")


async def test_get_table_and_outputs(kubectl: Kubectl, client: Client, tmp_path: Path) -> None:
    await kubectl.ok("apply", "-f", write(tmp_path, GW_YAML))
    await client.request("PATCH", f"{GATEWAYS}/gw1/status", {"status": {
        "addresses": [{"value": "127.0.0.10"}, {"value": "127.0.0.11"}],
        "conditions": [{"type": "Programmed", "status": "True"}]}},
        "application/merge-patch+json")
    lines = (await kubectl.ok("get", "gateway")).splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert lines[1].split()[:4] == ["gw1", "embedded", "127.0.0.10", "True"]
    svc = (await kubectl.ok("get", "svc")).splitlines()
    assert svc[0].split()[:3] == ["NAME", "TYPE", "CLUSTER-IP"]
    assert svc[1].split()[2].startswith("10.96.")
    doc = yaml.safe_load(await kubectl.ok("get", "gtw", "gw1", "-o", "yaml"))
    assert doc["spec"]["gatewayClassName"] == "embedded"
    assert await kubectl.ok("get", "gtw", "gw1", "-o",
                            "jsonpath={.spec.gatewayClassName}") == "embedded"
    everywhere = (await kubectl.ok("get", "gtw", "-A")).splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert everywhere[1].split()[:2] == ["default", "gw1"]
    labelled = await kubectl.ok("get", "gtw", "-l", "app in (web)", "-o", "name")
    assert labelled.strip() == "gateway.gateway.networking.k8s.io/gw1"
    assert (await kubectl.ok("get", "gtw", "-l", "app!=web", "-o", "name")).strip() == ""


async def test_get_watch_prints_header_then_rows(kubectl: Kubectl, client: Client) -> None:
    await client.request("POST", GATEWAYS, gateway("gw-a"))
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv("get", "gateways", "-w"), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        header = await asyncio.wait_for(proc.stdout.readline(), 60)
        first = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert header.split()[:2] == [b"NAME", b"CLASS"]
        assert first.split()[:2] == [b"gw-a", b"embedded"]
        await client.request("POST", GATEWAYS, gateway("gw-b", cls="other"))
        added = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert added.split()[:2] == [b"gw-b", b"other"]
    finally:
        proc.kill()
        await proc.wait()


async def test_wait_for_condition(kubectl: Kubectl, client: Client) -> None:
    await client.request("POST", GATEWAYS, gateway("gw1"))
    # -v=6 logs each request once answered: the condition is set only after kubectl's watch
    # is open, so the test passes only if the watch delivers the change
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv("wait", "--for=condition=Programmed", "gateway/gw1", "--timeout=60s",
                      "-v=6"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        while b"watch=true" not in (line := await asyncio.wait_for(proc.stderr.readline(), 60)):
            assert line, "kubectl wait exited without opening a watch"
        status, _, _ = await client.request(
            "PATCH", f"{GATEWAYS}/gw1/status",
            {"status": {"conditions": [{"type": "Programmed", "status": "True"}]}},
            "application/merge-patch+json")
        assert status == 200
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    assert b"condition met" in out


async def test_patch_forms(kubectl: Kubectl, client: Client, tmp_path: Path) -> None:
    await kubectl.ok("apply", "-f", write(tmp_path, GW_YAML))
    await kubectl.ok("patch", "gtw", "gw1", "--type=merge",
                     "-p", '{"spec":{"gatewayClassName":"merged"}}')
    await kubectl.ok("patch", "gtw", "gw1", "--type=json",
                     "-p", '[{"op":"replace","path":"/spec/listeners/0/port","value":8080}]')
    gw = json.loads(await kubectl.ok("get", "gtw", "gw1", "-o", "json"))
    assert gw["spec"]["gatewayClassName"] == "merged"
    assert gw["spec"]["listeners"][0]["port"] == 8080
    rc, _, err = await kubectl("patch", "gtw", "gw1", "-p", '{"spec":{"gatewayClassName":"x"}}')
    assert rc != 0 and "application/strategic-merge-patch+json is not supported" in err
    await kubectl.ok("patch", "svc", "svc1", "-p", '{"spec":{"ports":[{"name":"b","port":90}]}}')
    svc = json.loads(await kubectl.ok("get", "svc", "svc1", "-o", "json"))
    assert [p["port"] for p in svc["spec"]["ports"]] == [80, 90]
    await kubectl.ok("patch", "gtw", "gw1", "--subresource=status", "--type=merge",
                     "-p", '{"status":{"conditions":[{"type":"Programmed","status":"True"}]}}')
    out = await kubectl.ok("get", "gtw", "gw1", "-o",
                           'jsonpath={.status.conditions[0].type} {.spec.gatewayClassName}')
    assert out == "Programmed merged"


async def test_delete(kubectl: Kubectl, client: Client) -> None:
    await client.request("POST", GATEWAYS, gateway("gw1"))
    out = await kubectl.ok("delete", "gateway", "gw1")
    assert 'gateway.gateway.networking.k8s.io "gw1" deleted' in out
    rc, _, err = await kubectl("delete", "gateway", "gw1")
    assert rc != 0 and 'Error from server (NotFound): gateways "gw1" not found' in err


async def test_invalid_object_prints_field_paths(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = GW_YAML.split("---")[0].replace("  gatewayClassName: embedded\n", "") \
        .replace("port: 80", "port: 70000")
    rc, _, err = await kubectl("apply", "-f", write(tmp_path, bad))
    assert rc != 0
    assert 'The Gateway "gw1" is invalid' in err
    assert "* spec.gatewayClassName: Required value" in err
    assert "* spec.listeners[0].port: Invalid value: 70000" in err


async def test_unknown_field_strict_and_warn(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = GW_YAML.split("---")[0].replace("spec:\n", "spec:\n  bogus: 1\n")
    rc, _, err = await kubectl("apply", "-f", write(tmp_path, bad))
    assert rc != 0 and 'strict decoding error: unknown field "spec.bogus"' in err
    rc, _, err = await kubectl("apply", "--validate=warn", "-f", write(tmp_path, bad))
    assert rc == 0 and 'Warning: unknown field "spec.bogus"' in err
