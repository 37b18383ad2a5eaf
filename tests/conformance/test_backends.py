"""The runner's echo pods: every container it plays runs, on the pod's one address."""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from propylon.client import KubeClient
from propylon.conformance.backends import Backends, Deployment, endpoint_slice
from propylon.infra.host.envoy_process import pid_alive
from tests.e2e.conftest import wait_for

ECHO = "registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0"


def _container(name: str, port_name: str, port: int, h2c: int) -> dict[str, Any]:
    return {"name": name, "image": ECHO, "ports": [{"containerPort": port, "name": port_name}],
            "env": [{"name": "HTTP_PORT", "value": str(port)},
                    {"name": "H2C_PORT", "value": str(h2c)},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}


def _get(ip: str, port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{ip}:{port}/status", timeout=5) as reply:
        return dict(json.load(reply))


async def test_a_sidecar_echo_serves_its_own_port_on_the_pod_address(tmp_path: Path) -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"namespace": "infra", "name": "multi-ports-backend"},
        "spec": {"replicas": 1, "template": {
            "metadata": {"labels": {"app": "multi-ports-backend"}},
            "spec": {"containers": [_container("app", "http", 8080, 3001),
                                    _container("health", "health", 9090, 3002),
                                    {"name": "unknown", "image": "example.com/other:1"}]}}}}
    network = ipaddress.IPv4Network(f"127.{random.randint(200, 254)}.{random.randint(0, 255)}.0/24")
    # no volume, so the API server is never read: a client without a connection will do
    backends = Backends(KubeClient.__new__(KubeClient), tmp_path, network)
    try:
        started = backends.deployments[("infra", "multi-ports-backend")] = Deployment(
            "infra", "multi-ports-backend")
        await backends._start(deployment, started)
        [pod] = started.pods
        await backends._wait_ready(pod)
        assert pod.running and len(pod.processes) == 2
        assert _get(pod.ip, 8080)["pod"] == _get(pod.ip, 9090)["pod"] == pod.name
        service = {"metadata": {"namespace": "infra", "name": "multi-ports-backend"},
                   "spec": {"selector": {"app": "multi-ports-backend"},
                            "ports": [{"name": "http", "port": 8080, "targetPort": "http"},
                                      {"name": "health", "port": 9090, "targetPort": "health"}]}}
        assert [(p["name"], p["port"]) for p in endpoint_slice(service, [pod])["ports"]] == [
            ("http", 8080), ("health", 9090)]
    finally:
        await backends.close()
    assert not pod.running


RUNNER = """
import asyncio, ipaddress, sys
from pathlib import Path
from propylon.client import KubeClient
from propylon.conformance.backends import Backends

async def main():
    backends = Backends(KubeClient.__new__(KubeClient), Path(sys.argv[1]),
                        ipaddress.IPv4Network(sys.argv[2]))
    await backends.sync([{"kind": "Deployment", "metadata": {"namespace": "infra", "name": "b"},
                          "spec": {"template": {"spec": {"containers": [
                              {"name": "echo", "image": "echo-basic"}]}}}}])
    print(*(p.pid for p in backends.pods("infra")[0].processes), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_pod_dies_with_a_runner_killed_without_a_chance_to_stop_it(tmp_path: Path) -> None:
    network = f"127.{random.randint(200, 254)}.{random.randint(0, 255)}.0/24"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path), network],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout is not None
        [pid] = [int(word) for word in runner.stdout.readline().split()]
        assert pid_alive(pid)
    finally:
        runner.kill()
        runner.wait()
    wait_for("the pod to exit after its runner", lambda: not pid_alive(pid), timeout=10)


