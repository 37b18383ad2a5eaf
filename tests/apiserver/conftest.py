"""Fixtures: a started APIServer in a temporary state directory, and kubectl against it."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from propylon.apiserver import APIServer
from propylon.apiserver.crds import FieldError

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"
# The wheel's kubectl (1.37), and an older system one (1.32) where the machine has it.
KUBECTLS = [KUBECTL, *(p for p in [Path("/usr/bin/kubectl")] if p.exists())]
GATEWAYS = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways"


def gateway_validator(obj: dict[str, Any]) -> list[FieldError]:
    """A small stand-in for the typed API layer: Gateways need a class, know two spec fields."""
    if obj.get("kind") != "Gateway":
        return []
    spec = obj.get("spec") or {}
    errors = [FieldError(f"spec.{k}", "FieldValueInvalid", "unknown field", unknown=True)
              for k in spec if k not in ("gatewayClassName", "listeners")]
    if not spec.get("gatewayClassName"):
        errors.append(FieldError("spec.gatewayClassName", "FieldValueRequired", "Required value"))
    for i, listener in enumerate(spec.get("listeners") or []):
        port = listener.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errors.append(FieldError(f"spec.listeners[{i}].port", "FieldValueInvalid",
                                     f"Invalid value: {port}: must be between 1 and 65535"))
    return errors


def gateway(name: str, cls: str = "embedded", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "labels": labels},
            "spec": {"gatewayClassName": cls,
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    srv = APIServer(tmp_path / "state", validator=gateway_validator, event_history=1000,
                    bookmark_interval=0.5)
    await srv.start()
    yield srv
    await srv.stop()


class Client:
    """Raw HTTP to the server with the kubeconfig's CA and token."""

    def __init__(self, server: APIServer, session: aiohttp.ClientSession, token: str) -> None:
        self.server = server
        self.session = session
        self.token = token

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str = "application/json",
                      headers: dict[str, str] | None = None,
                      raw: bytes | None = None) -> tuple[int, Any, aiohttp.ClientResponse]:
        import json
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type,
                       **(headers or {})}
        async with self.session.request(method, self.server.url + path, data=data,
                                        headers=all_headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.startswith("{") else text), resp


@pytest.fixture
async def client(server: APIServer) -> AsyncIterator[Client]:
    state = server.state_dir
    context = ssl.create_default_context(cafile=str(state / "ca.crt"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield Client(server, session, (state / "token").read_text().strip())


@dataclass
class Kubectl:
    server: APIServer
    cache_dir: Path
    binary: Path = KUBECTL

    def argv(self, *args: str) -> list[str]:
        return [str(self.binary), "--kubeconfig", str(self.server.kubeconfig_path),
                "--cache-dir", str(self.cache_dir), *args]

    async def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args), stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), 120)
        return proc.returncode or 0, out.decode(), err.decode()

    async def ok(self, *args: str, stdin: str | None = None) -> str:
        rc, out, err = await self(*args, stdin=stdin)
        assert rc == 0, f"kubectl {' '.join(args)} failed: {err}"
        return out


@pytest.fixture
def kubectl(server: APIServer, tmp_path: Path) -> Kubectl:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: install the test extras (make test does)"
    return Kubectl(server, tmp_path / "kube-cache")


@pytest.fixture(params=KUBECTLS, ids=str)
def any_kubectl(request: pytest.FixtureRequest, server: APIServer, tmp_path: Path) -> Kubectl:
    """kubectl against the server, once per kubectl version the machine has (see KUBECTLS)."""
    return Kubectl(server, tmp_path / "kube-cache", request.param)

