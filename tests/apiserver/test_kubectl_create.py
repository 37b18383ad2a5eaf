"""kubectl's typed commands (`create ...`, `expose`, `run`), which send protobuf bodies, against
the embedded API server: each prints what it prints on a cluster and stores the object kubectl
built (what its `--dry-run=client -o json` shows) plus what the server adds.

Run with the test extras' kubectl (1.37) and with /usr/bin/kubectl (1.32 here) when the machine
has one.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from propylon.apiserver import APIServer

from .conftest import KUBECTL, Kubectl

SYSTEM_KUBECTL = Path("/usr/bin/kubectl")
BINARIES = [KUBECTL, *([SYSTEM_KUBECTL] if SYSTEM_KUBECTL.exists() else [])]

# what the server adds to every object, and to Services (a cluster IP, affinity and type)
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "namespace",
                   "managedFields")
SERVICE_DEFAULTS = ("clusterIP", "clusterIPs", "sessionAffinity", "type")


@pytest.fixture(params=BINARIES, ids=lambda p: p.name if p == KUBECTL else str(p))
def any_kubectl(request: pytest.FixtureRequest, server: APIServer, tmp_path: Path) -> Kubectl:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: install the test extras (make test does)"
    return Kubectl(server, tmp_path / "kube-cache", request.param)


def _without_null_times(value: Any) -> Any:
    """kubectl before 1.35 prints a zero `creationTimestamp` as null; servers leave it out."""
    if isinstance(value, dict):
        return {k: _without_null_times(v) for k, v in value.items()
                if not (k == "creationTimestamp" and v is None)}
    if isinstance(value, list):
        return [_without_null_times(v) for v in value]
    return value


def _as_sent(stored: dict[str, Any], built: dict[str, Any]) -> dict[str, Any]:
    """The stored object without what the server adds to what kubectl built."""
    obj = json.loads(json.dumps(stored))
    obj.pop("status", None)
    for key in SERVER_METADATA:
        obj["metadata"].pop(key, None)
    if obj["kind"] == "Service":
        for key in SERVICE_DEFAULTS:
            if key not in built["spec"]:
                obj["spec"].pop(key, None)
    return obj


async def _create(kubectl: Kubectl, *args: str) -> tuple[str, dict[str, Any]]:
    """Run a create-like command; return its output and the object it stored, checked against
    the object kubectl builds for it."""
    built = json.loads(await kubectl.ok(*args, "--dry-run=client", "-o", "json"))
    out = await kubectl.ok(*args)
    namespace = ["-n", built["metadata"]["namespace"]] if "namespace" in built["metadata"] \
        else []
    stored = json.loads(await kubectl.ok("get", built["kind"].lower(),
                                         built["metadata"]["name"], *namespace, "-o", "json"))
    built.pop("status", None)
    built["metadata"].pop("namespace", None)  # checked by the callers that set one
    assert _as_sent(stored, built) == _without_null_times(built)
    return out, stored


async def test_create_namespace_secret_configmap(any_kubectl: Kubectl, server: APIServer
                                                 ) -> None:
    out, ns = await _create(any_kubectl, "create", "namespace", "team-a")
    assert out == "namespace/team-a created\n"
    assert ns["status"] == {"phase": "Active"}
    out, secret = await _create(any_kubectl, "create", "secret", "generic", "s1", "-n", "team-a",
                                "--from-literal=user=admin", "--from-literal=empty=")
    assert out == "secret/s1 created\n"
    assert secret["metadata"]["namespace"] == "team-a"
    assert secret["data"] == {"user": base64.b64encode(b"admin").decode(), "empty": ""}
    cert, key = server.state_dir / "server.crt", server.state_dir / "server.key"
    out, tls = await _create(any_kubectl, "create", "secret", "tls", "t1", "--cert", str(cert),
                             "--key", str(key))
    assert out == "secret/t1 created\n"
    assert tls["type"] == "kubernetes.io/tls"
    assert base64.b64decode(tls["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(tls["data"]["tls.key"]) == key.read_bytes()
    lines = (await any_kubectl.ok("get", "secret", "t1")).splitlines()
    assert lines[1].split()[:2] == ["t1", "kubernetes.io/tls"]
    out, cm = await _create(any_kubectl, "create", "configmap", "c1", "--from-literal=k=v",
                            "--from-literal=n=1")
    assert out == "configmap/c1 created\n"
    assert cm["data"] == {"k": "v", "n": "1"}
    rc, _, err = await any_kubectl("create", "namespace", "team-a")
    assert rc != 0
    assert 'Error from server (AlreadyExists): namespaces "team-a" already exists' in err


async def test_create_deployment_service_expose_run(any_kubectl: Kubectl) -> None:
    out, web = await _create(any_kubectl, "create", "deployment", "web", "--image=nginx:1.27",
                             "--port=8080")
    assert out == "deployment.apps/web created\n"
    assert web["spec"]["replicas"] == 1
    assert web["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
         "resources": {}}]
    out, idle = await _create(any_kubectl, "create", "deployment", "idle", "--image=x",
                              "--replicas=0")
    assert out == "deployment.apps/idle created\n"
    assert idle["spec"]["replicas"] == 0  # an explicit zero, not left out
    out, svc = await _create(any_kubectl, "create", "service", "clusterip", "svc1",
                             "--tcp=80:http")
    assert out == "service/svc1 created\n"
    assert svc["spec"]["ports"] == [{"name": "80-http", "port": 80, "protocol": "TCP",
                                     "targetPort": "http"}]
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    out, exposed = await _create(any_kubectl, "expose", "deployment", "web", "--port=80",
                                 "--target-port=8080")
    assert out == "service/web exposed\n"
    assert exposed["spec"]["selector"] == {"app": "web"}
    assert exposed["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    out, pod = await _create(any_kubectl, "run", "pod1", "--image=x", "--labels=tier=web")
    assert out == "pod/pod1 created\n"
    assert pod["status"] == {"phase": "Pending"}  # nothing runs Pods in standalone mode
    assert "Pending" in (await any_kubectl.ok("get", "pod", "pod1")).splitlines()[1].split()
