"""kubectl's typed commands (`create ...`, `expose`, `run`), which send protobuf bodies, against
the embedded API server: each prints what it prints on a cluster and stores what a cluster
stores: the object kubectl built (what its `--dry-run=client -o json` shows) with
kube-apiserver's defaults (`SetDefaults_*` of core/v1 and apps/v1, as their defaults_test.go
cases show them) and what its Service storage allocates (cluster IP, IP families, node ports).

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

# what the server sets in every object's metadata (`kubectl get` leaves managedFields out)
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation")
# what a cluster's pod spec defaults to (SetDefaults_PodSpec) and a container's (SetDefaults_Container)
POD_SPEC = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30}
CONTAINER = {"terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File", "resources": {}}
# a ClusterIP Service's spec beyond its ports and selector (its cluster IP checked apart)
CLUSTER_IP_SPEC = {"type": "ClusterIP", "sessionAffinity": "None",
                   "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                   "ipFamilyPolicy": "SingleStack"}
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


def _contains(stored: Any, built: Any, path: str = "") -> None:
    """Everything kubectl built is stored as built (the server only adds)."""
    if isinstance(built, dict) and isinstance(stored, dict):
        for key, value in built.items():
            assert key in stored, f"{path}.{key} was sent but not stored"
            _contains(stored[key], value, f"{path}.{key}")
    elif isinstance(built, list) and isinstance(stored, list):
        assert len(stored) == len(built), f"{path}: {stored} != {built}"
        for i, (a, b) in enumerate(zip(stored, built, strict=True)):
            _contains(a, b, f"{path}[{i}]")
    else:
        assert stored == built, f"{path}: stored {stored!r}, sent {built!r}"


def _without_server_metadata(stored: dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(json.dumps(stored))
    for key in SERVER_METADATA:
        obj["metadata"].pop(key, None)
    return obj


async def _create(kubectl: Kubectl, *args: str) -> tuple[str, dict[str, Any]]:
    """Run a create-like command; return its output and the object it stored (without the
    metadata the server sets each time), checked to hold what kubectl built."""
    built = json.loads(await kubectl.ok(*args, "--dry-run=client", "-o", "json"))
    out = await kubectl.ok(*args)
    namespace = ["-n", built["metadata"]["namespace"]] if "namespace" in built["metadata"] \
        else []
    stored = json.loads(await kubectl.ok("get", built["kind"].lower(),
                                         built["metadata"]["name"], *namespace, "-o", "json"))
    if built["kind"] in ("Pod", "Namespace"):
        built.pop("status", None)  # the server sets these: Pending, Active
    _contains(stored, _without_null_times(built))
    return out, _without_server_metadata(stored)


async def test_create_namespace_secret_configmap(any_kubectl: Kubectl, server: APIServer
                                                 ) -> None:
    out, ns = await _create(any_kubectl, "create", "namespace", "team-a")
    assert out == "namespace/team-a created\n"
    assert ns == {"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "team-a",
                               "labels": {"kubernetes.io/metadata.name": "team-a"}},
                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    out, secret = await _create(any_kubectl, "create", "secret", "generic", "s1", "-n", "team-a",
                                "--from-literal=user=admin", "--from-literal=empty=")
    assert out == "secret/s1 created\n"
    assert secret == {"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "s1", "namespace": "team-a"},
                      "data": {"user": base64.b64encode(b"admin").decode(), "empty": ""},
                      "type": "Opaque"}
    lines = (await any_kubectl.ok("get", "secret", "s1", "-n", "team-a")).splitlines()
    assert lines[1].split()[:3] == ["s1", "Opaque", "2"]  # NAME TYPE DATA
    cert, key = server.state_dir / "server.crt", server.state_dir / "server.key"
    out, tls = await _create(any_kubectl, "create", "secret", "tls", "t1", "--cert", str(cert),
                             "--key", str(key))
    assert out == "secret/t1 created\n"
    assert tls["type"] == "kubernetes.io/tls"  # kubectl's, not defaulted over
    assert base64.b64decode(tls["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(tls["data"]["tls.key"]) == key.read_bytes()
    lines = (await any_kubectl.ok("get", "secret", "t1")).splitlines()
    assert lines[1].split()[:2] == ["t1", "kubernetes.io/tls"]
    out, cm = await _create(any_kubectl, "create", "configmap", "c1", "--from-literal=k=v",
                            "--from-literal=n=1")
    assert out == "configmap/c1 created\n"
    assert cm == {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "c1", "namespace": "default"},
                  "data": {"k": "v", "n": "1"}}
    rc, _, err = await any_kubectl("create", "namespace", "team-a")
    assert rc != 0
    assert 'Error from server (AlreadyExists): namespaces "team-a" already exists' in err


async def test_create_deployment_service_expose_run(any_kubectl: Kubectl) -> None:
    out, web = await _create(any_kubectl, "create", "deployment", "web", "--image=nginx:1.27",
                             "--port=8080")
    assert out == "deployment.apps/web created\n"
    assert web["metadata"] == {"name": "web", "namespace": "default", "labels": {"app": "web"}}
    assert web["spec"] == {
        "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {**POD_SPEC, "containers": [
            {"name": "nginx", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
             "ports": [{"containerPort": 8080, "protocol": "TCP"}], **CONTAINER}]}}}
    out, idle = await _create(any_kubectl, "create", "deployment", "idle", "--image=x",
                              "--replicas=0")
    assert out == "deployment.apps/idle created\n"
    assert idle["spec"]["replicas"] == 0  # an explicit zero, not defaulted over
    # no tag is the latest tag: pulled always
    assert idle["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    out, svc = await _create(any_kubectl, "create", "service", "clusterip", "svc1",
                             "--tcp=80:http")
    assert out == "service/svc1 created\n"
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert svc["spec"] == {
        **CLUSTER_IP_SPEC, "clusterIP": svc["spec"]["clusterIP"],
        "clusterIPs": [svc["spec"]["clusterIP"]], "selector": {"app": "svc1"},
        "ports": [{"name": "80-http", "port": 80, "protocol": "TCP", "targetPort": "http"}]}
    assert svc["status"] == {"loadBalancer": {}}
    out, exposed = await _create(any_kubectl, "expose", "deployment", "web", "--port=80",
                                 "--target-port=8080")
    assert out == "service/web exposed\n"
    ip = exposed["spec"]["clusterIP"]
    assert ip.startswith("10.96.") and ip != svc["spec"]["clusterIP"]
    assert exposed["spec"] == {
        **CLUSTER_IP_SPEC, "clusterIP": ip, "clusterIPs": [ip], "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}
    out, pod = await _create(any_kubectl, "run", "pod1", "--image=x", "--labels=tier=web")
    assert out == "pod/pod1 created\n"
    assert pod["spec"] == {**POD_SPEC, "enableServiceLinks": True, "containers": [
        {"name": "pod1", "image": "x", "imagePullPolicy": "Always", **CONTAINER}]}
    # nothing runs Pods in standalone mode; no requests nor limits: BestEffort
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "Pending" in (await any_kubectl.ok("get", "pod", "pod1")).splitlines()[1].split()


async def test_node_ports_allocated_kept_and_refused(any_kubectl: Kubectl) -> None:
    """NodePort and LoadBalancer Services get node ports from 30000-32767 as on a cluster
    (`kubectl get svc` shows `80:<nodePort>/TCP`); a requested one is honoured, or refused when
    another Service holds it; an update keeps them and a delete frees them."""
    out, np1 = await _create(any_kubectl, "create", "service", "nodeport", "np1",
                             "--tcp=80:8080")
    assert out == "service/np1 created\n"
    first = np1["spec"]["ports"][0]["nodePort"]
    assert 30000 <= first <= 32767
    ip = np1["spec"]["clusterIP"]
    assert np1["spec"] == {
        **CLUSTER_IP_SPEC, "type": "NodePort", "externalTrafficPolicy": "Cluster",
        "clusterIP": ip, "clusterIPs": [ip], "selector": {"app": "np1"},
        "ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080,
                   "nodePort": first}]}
    row = (await any_kubectl.ok("get", "svc", "np1")).splitlines()[1].split()
    assert row[:5] == ["np1", "NodePort", ip, "<none>", f"80:{first}/TCP"]

    _, lb = await _create(any_kubectl, "create", "service", "loadbalancer", "lb1",
                          "--tcp=80:8080", "--tcp=443:8443")
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    lb_ports = [p["nodePort"] for p in lb["spec"]["ports"]]
    assert len({first, *lb_ports}) == 3 and all(30000 <= p <= 32767 for p in lb_ports)

    _, fixed = await _create(any_kubectl, "create", "service", "nodeport", "np2",
                             "--tcp=80:8080", "--node-port=31080")
    assert fixed["spec"]["ports"][0]["nodePort"] == 31080
    rc, _, err = await any_kubectl("create", "service", "nodeport", "np3", "--tcp=80:8080",
                                   "--node-port=31080")
    assert rc != 0
    assert ('Service "np3" is invalid: spec.ports[0].nodePort: Invalid value: 31080: '
            "provided port is already allocated") in err
    rc, _, err = await any_kubectl("create", "service", "nodeport", "np3", "--tcp=80:8080",
                                   "--node-port=80")
    assert rc != 0
    assert ("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid "
            "range. The range of valid ports is 30000-32767") in err

    # an update that leaves the node port out keeps it (kubectl apply of a manifest without one)
    await any_kubectl.ok("label", "svc", "np1", "tier=web")
    manifest = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np1"},
                           "spec": {"type": "NodePort", "selector": {"app": "np1"},
                                    "ports": [{"name": "80-8080", "port": 80,
                                               "targetPort": 8080}]}})
    await any_kubectl.ok("apply", "--server-side", "-f", "-", stdin=manifest)
    await any_kubectl.ok("replace", "-f", "-", stdin=manifest)
    kept = json.loads(await any_kubectl.ok("get", "svc", "np1", "-o", "json"))
    assert kept["spec"]["ports"][0]["nodePort"] == first
    assert kept["spec"]["clusterIP"] == ip

    # a delete frees the port: asking for it succeeds
    await any_kubectl.ok("delete", "svc", "np2")
    _, again = await _create(any_kubectl, "create", "service", "nodeport", "np3",
                             "--tcp=80:8080", "--node-port=31080")
    assert again["spec"]["ports"][0]["nodePort"] == 31080

    # a type without node ports drops them
    await any_kubectl.ok("patch", "svc", "np1", "-p", '{"spec": {"type": "ClusterIP"}}')
    plain = json.loads(await any_kubectl.ok("get", "svc", "np1", "-o", "json"))
    assert "nodePort" not in plain["spec"]["ports"][0]
    assert "externalTrafficPolicy" in plain["spec"]  # kept, as kube-apiserver keeps it
