"""The embedded API server playing the cluster, for Kubernetes-mode tests: processes started by a
test (API server, controllers, Envoys, echo backends) and kubectl bound to its kubeconfig."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import BIN, QUICKSTART, REPO, free_port, wait_for
from tests.shared_data import shared

CRDS = shared("gateway-api", "crds", "v1.6.1", "standard-install.yaml")
PROPYLON_CRD = REPO / "deploy" / "crd-gatewayparameters.yaml"
HOST = "app.yourdomain.com"
NAME = "propylon-api-gateway"  # the proxy objects of Gateway default/api-gateway
KUBELET_AGENT = "kubelet/v1.33.0 (played by the tests)"  # told apart in the audit log
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: propylon-system}\n"


_FREE_ADMIN_PORT = {"admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                         "port_value": 0}}}}

class Cluster:
    """Processes started by the test, and kubectl bound to the API server's kubeconfig."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.kubeconfig = tmp / "api" / "kubeconfig"
        self.audit_log = tmp / "audit.jsonl"  # every resource request the API server served
        self.procs: list[subprocess.Popen[bytes]] = []
        self.agents: dict[Path, subprocess.Popen[bytes]] = {}  # xDS agents by certificate dir

    def spawn(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
        proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        cmd = [str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig),
               "--cache-dir", str(self.tmp / "kubecache"), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}\n"
                                 f"--- controller log ---\n{self.log('controller')}")
        return result.stdout

    def install(self) -> None:
        """Apply the upstream Gateway API CRDs, Propylon's CRD and the controller's namespace."""
        self.kubectl("apply", "-f", str(CRDS), "-f", str(PROPYLON_CRD))
        self.kubectl("apply", "-f", "-", stdin=NAMESPACE)

    def restart_apiserver(self) -> None:
        """Stop the API server process and start it again on the same state directory."""
        self.procs[0].send_signal(signal.SIGTERM)
        self.procs[0].wait(timeout=20)
        self.procs[0] = self.start_apiserver()

    def start_apiserver(self) -> subprocess.Popen[bytes]:
        proc = self.spawn("apiserver", sys.executable, "-m", "propylon.apiserver",
                          "--state-dir", str(self.tmp / "api"), "--no-builtin-gateway-api",
                          "--audit-log", str(self.audit_log))
        self.procs.remove(proc)
        wait_for("the API server", lambda: self.kubeconfig.exists() and self.kubectl("get", "ns"))
        return proc

    def controller(self, name: str, *extra: str, xds_port: int = 0,
                   ops_port: int = 0) -> tuple[subprocess.Popen[bytes], str]:
        """Start `propylon controller` (xDS, its certificate endpoint and ops on loopback, free
        ports unless given) and wait until it is ready; returns the process and the URL of its
        ops endpoints."""
        xds_port, ops_port = xds_port or free_port(), ops_port or free_port()
        proc = self.spawn(name, str(BIN / "propylon"), "controller",
                          "--kubeconfig", str(self.kubeconfig),
                          "--xds-listen", f"127.0.0.1:{xds_port}",
                          "--xds-address", f"127.0.0.1:{xds_port}",
                          "--certificate-listen", f"127.0.0.1:{free_port()}",
                          "--ops-listen", f"127.0.0.1:{ops_port}",
                          "--proxy-bind-address", "127.0.0.1", *extra)
        ops = f"http://127.0.0.1:{ops_port}"
        wait_for(f"{name} to be ready",
                 lambda: urllib.request.urlopen(ops + "/readyz", timeout=5).status == 200)
        return proc, ops

    def service_account_token(self, name: str, audience: str, namespace: str = "default") -> str:
        """A TokenRequest for the ServiceAccount, as the kubelet makes for a projected token
        volume (JSON: kubectl's `create token` sends protobuf)."""
        state = self.kubeconfig.parent
        server = yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        request = urllib.request.Request(
            f"{server}/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            method="POST", data=json.dumps({"spec": {"audiences": [audience]}}).encode(),
            headers={"Authorization": f"Bearer {(state / 'token').read_text().strip()}",
                     "Content-Type": "application/json", "User-Agent": KUBELET_AGENT})
        context = ssl.create_default_context(cafile=str(state / "ca.crt"))
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return str(json.loads(response.read())["status"]["token"])

    def apply_quickstart_gateway(self) -> None:
        """Apply the quickstart's GatewayClass and Gateway (`default/api-gateway`)."""
        self.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"))
        self.kubectl("apply", "-f", str(QUICKSTART / "gateway.yaml"))

    def play_load_balancer(self) -> None:
        """Write 127.0.0.1 as the proxy Service's load-balancer ingress, as a cloud LB would."""
        self.kubectl("patch", "service", NAME, "--subresource=status", "--type=merge", "-p",
                     json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}))

    def play_kubelet(self) -> None:
        """Mark the proxy Deployment's one replica ready, as the kubelet would."""
        self.kubectl("patch", "deployment", NAME, "--subresource=status", "--type=merge", "-p",
                     json.dumps({"status": {"replicas": 1, "readyReplicas": 1}}))

    def start_envoy(self, bootstrap: Path, base_id: int) -> subprocess.Popen[bytes]:
        """Run Envoy (one worker) on `bootstrap`, the way the Deployment's container does; its
        admin and the pod's own listeners (stats, readiness), on fixed ports inside the pod,
        take free ports here so runs can overlap."""
        config = json.loads(bootstrap.read_text())
        for listener in config["static_resources"].get("listeners", []):
            listener["address"]["socket_address"].update(address="127.0.0.1", port_value=0)
        local = bootstrap.with_name(f"local-{bootstrap.name}")
        local.write_text(json.dumps(config))
        return self.spawn("envoy", str(BIN / "envoy"), "-c", str(local),
                          "--config-yaml", json.dumps(_FREE_ADMIN_PORT),
                          "--disable-hot-restart", "--base-id", str(base_id), "--concurrency", "1")

    def serve_app(self, echo_port: int) -> None:
        """Start an echo backend on `echo_port` and apply the quickstart app with its
        EndpointSlice pointing at it."""
        self.spawn("echo", str(BIN / "propylon"), "echo", "--listen", f"127.0.0.1:{echo_port}")
        app = list(yaml.safe_load_all((QUICKSTART / "app.yaml").read_text()))
        for obj in app:
            if obj["kind"] == "EndpointSlice":
                obj["ports"][0]["port"] = echo_port
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(app))

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-40:]) \
            if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    assert shutil.which("envoy", path=str(BIN)), "envoy binary missing"
    c = Cluster(tmp_path)
    c.procs.insert(0, c.start_apiserver())
    yield c
    c.stop()


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind),
                {})


def http_get(port: int, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host, "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def metric(ops: str, name: str) -> float | None:
    """The value of a metric of a controller (`name` with its labels, if any, exactly as
    exposed), None if it is not exposed."""
    text = urllib.request.urlopen(ops + "/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def project(where: Path, data: dict[str, bytes]) -> None:
    """Write `data` into the volume directory `where` the way the kubelet does: the files live
    in a fresh `..<version>` directory, `..data` links to it and is swapped atomically, and each
    key is a link through `..data` (so a watcher sees one move, never half an update)."""
    where.mkdir(parents=True, exist_ok=True)
    version = f"..v{len(list(where.glob('..v*'))) + 1}"
    (where / version).mkdir()
    for key, value in data.items():
        (where / version / key).write_bytes(value)
    (where / "..data_tmp").symlink_to(version)
    os.replace(where / "..data_tmp", where / "..data")
    for key in data:
        if not (where / key).is_symlink():
            (where / key).symlink_to(f"..data/{key}")


def mount_proxy_files(cluster: Cluster, root: Path) -> Path:
    """Write the ConfigMap of the proxies where the Deployment mounts it (again: an update, as
    the kubelet makes it), with `/etc/propylon` moved to `root`, and run the pod's xDS agent
    (once per `root`) with a projected token of the pod's ServiceAccount, until it wrote the
    certificate into the emptyDir Envoy reads; returns the bootstrap's path."""
    pod = cluster.get("deployment", NAME)["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "envoy"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            data = {k: v.encode() for k, v in
                    cluster.get("configmap", volume["configMap"]["name"])["data"].items()}
            project(root / Path(mount["mountPath"]).relative_to("/etc/propylon"),
                    {k: v.replace(b"/etc/propylon", str(root).encode())
                     for k, v in data.items()})
    for sidecar in pod.get("initContainers") or []:
        if sidecar["name"] == "xds-agent" and root not in cluster.agents:
            cluster.agents[root] = run_agent(cluster, root, pod["serviceAccountName"],
                                             sidecar, volumes)
    return root / Path(container["args"][1]).relative_to("/etc/propylon")


def run_agent(cluster: Cluster, root: Path, account: str, sidecar: dict[str, Any],
              volumes: dict[str, Any]) -> subprocess.Popen[bytes]:
    """The xDS agent as the pod runs it: its projected token written where the volume is
    mounted, its paths under `root`; returns once it wrote the certificate."""
    mounts = {m["name"]: m["mountPath"] for m in sidecar["volumeMounts"]}
    [source] = volumes["xds-token"]["projected"]["sources"]
    token = source["serviceAccountToken"]
    token_dir = root / "token"
    project(token_dir, {token["path"]: cluster.service_account_token(
        account, token["audience"]).encode()})
    args = [a.replace(mounts["xds-token"], str(token_dir)).replace("/etc/propylon", str(root))
            for a in sidecar["command"][1:]]
    cert_dir = Path(args[args.index("--cert-dir") + 1])
    cert_dir.mkdir(parents=True, exist_ok=True)
    proc = cluster.spawn(f"xds-agent-{root.name}", str(BIN / "propylon"), *args,
                         "--check-interval", "1")
    wait_for("the xDS agent's certificate", lambda: (cert_dir / "tls.crt").is_file())
    return proc
