"""What every benchmark shares: the objects, the stack process, the backend, probes, reports.

- `objects()` writes the benchmark's world: one GatewayClass, one Gateway (HTTP listener on port
  8080), about N/10 Services with an EndpointSlice each pointing at the local backend, and N
  HTTPRoutes `route-<i>` spread over about N/10 hostnames `h<j>.bench.test`, each matching the
  path prefix `/r<i>`.
- `Stack` starts `python -m benchmarks.stack` (controller + xDS, with the API server and Envoy
  processes as children) and reads its pids, RSS and CPU time from /proc; the control plane's
  RSS and CPU time include its API server process. `kill` and `start` SIGKILL it and start it
  again on the same state directory.
- `Api` creates, patches, deletes and reads objects through `propylon.client.KubeClient`.
- `Nginx` runs nginx from the Debian package as a fast local backend (`return 200 ok`) or as a
  reverse proxy; `Envoy` runs a hand-written Envoy config.
- `probe()` sends one GET on a new connection and returns the status (0 if the connection
  failed); `Report` prints figures and writes JSON, Markdown and PNG plots, stamped with the
  date, the machine and the commit (`$BENCH_COMMIT` when run from an exported tree).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from propylon.api.kinds import by_kind
from propylon.client import KubeClient, PatchType, load_client, resource_class

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GATEWAY_PORT = 8080
NS = "default"
GATEWAY = "bench"


def host_of(i: int, hosts: int) -> str:
    return f"h{i % hosts}.bench.test"


def service_of(i: int, services: int) -> str:
    return f"svc-{i % services}"


def route(i: int, hosts: int, services: int, path: str | None = None) -> dict[str, Any]:
    """HTTPRoute `route-<i>`: host `h<i % hosts>`, prefix `path` (default `/r<i>`)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": f"route-{i}", "namespace": NS},
        "spec": {
            "parentRefs": [{"name": GATEWAY}],
            "hostnames": [host_of(i, hosts)],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path or f"/r{i}"}}],
                       "backendRefs": [{"name": service_of(i, services), "port": 80}]}],
        },
    }


def endpoint_slice(s: int, ports: Iterable[int]) -> dict[str, Any]:
    """The EndpointSlice of `svc-<s>`: one endpoint per backend port (same port list)."""
    ports = list(ports)
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"svc-{s}", "namespace": NS,
                     "labels": {"kubernetes.io/service-name": f"svc-{s}"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": ports[0], "protocol": "TCP"}],
        "endpoints": [{"addresses": [f"127.0.0.{1 + k}"], "conditions": {"ready": True}}
                      for k in range(len(ports))],
    }


def objects(n: int, backend_port: int) -> tuple[list[dict[str, Any]], int, int]:
    """Everything to apply for N routes, and the numbers of hostnames and Services."""
    hosts = services = max(1, math.ceil(n / 10))
    out: list[dict[str, Any]] = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "bench"},
         "spec": {"controllerName": "propylon.dev/gateway-controller",
                  "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
                                    "name": "bench", "namespace": NS}}},
        # no access log, as nginx (`access_log off`) and the minimal Envoy it is compared with
        {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
         "metadata": {"name": "bench", "namespace": NS},
         "spec": {"telemetry": {"accessLog": {"disable": True}}}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": GATEWAY, "namespace": NS},
         "spec": {"gatewayClassName": "bench",
                  "listeners": [{"name": "http", "port": GATEWAY_PORT, "protocol": "HTTP"}]}},
    ]
    for s in range(services):
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": f"svc-{s}", "namespace": NS},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend_port}]}})
        out.append(endpoint_slice(s, [backend_port]))
    out.extend(route(i, hosts, services) for i in range(n))
    return out, hosts, services


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- API client ---------------------------------------------------------------------------

class Api:
    """Create, patch, delete and get objects on the embedded API server."""

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._client: KubeClient | None = None

    async def __aenter__(self) -> Api:
        self._client = load_client(self._kubeconfig)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._client is not None:
            await self._client.close()

    @property
    def client(self) -> KubeClient:
        assert self._client is not None, "use Api as an async context manager"
        return self._client

    async def create(self, obj: dict[str, Any]) -> None:
        await self.client.create(resource_class(by_kind(obj["kind"]))(obj))

    async def create_all(self, objs: list[dict[str, Any]], parallel: int = 16) -> None:
        queue = list(reversed(objs))

        async def worker() -> None:
            while queue:
                await self.create(queue.pop())
        await asyncio.gather(*(worker() for _ in range(parallel)))

    async def replace(self, obj: dict[str, Any]) -> None:
        """Merge-patch `obj` onto the stored object of the same name."""
        info = by_kind(obj["kind"])
        ns = obj["metadata"].get("namespace") if info.namespaced else None
        await self.client.patch(resource_class(info), obj["metadata"]["name"],
                                {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
                                patch_type=PatchType.MERGE, namespace=ns)

    async def delete(self, kind: str, name: str, namespace: str | None = NS) -> None:
        await self.client.delete(resource_class(by_kind(kind)), name, namespace=namespace)

    async def list(self, kind: str, namespace: str | None = NS) -> list[dict[str, Any]]:
        return (await self.client.list(resource_class(by_kind(kind)), namespace=namespace)).items

    async def get(self, kind: str, name: str, namespace: str | None = NS) -> dict[str, Any]:
        return await self.client.get(resource_class(by_kind(kind)), name, namespace=namespace)

    async def gateway_address(self, timeout: float = 60.0, name: str = GATEWAY) -> str:
        """The address of Gateway `name` once it is Programmed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = (await self.get("Gateway", name)).get("status", {})
            programmed = any(c.get("type") == "Programmed" and c.get("status") == "True"
                             for c in status.get("conditions", []))
            if programmed and status.get("addresses"):
                return str(status["addresses"][0]["value"])
            await asyncio.sleep(0.05)
        raise TimeoutError(f"Gateway {name} was not Programmed in time")


# --- processes ------------------------------------------------------------------------------

def with_api_server(pid: int) -> list[int]:
    """`pid` and, if it is a stack process, the API server process it runs as a child."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(c) for c in children
                   if b"propylon.apiserver.process" in Path(f"/proc/{c}/cmdline").read_bytes())]


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` (with its API server process, see `with_api_server`)."""
    total = 0.0
    for one in with_api_server(pid):
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` (with its API server process) so far."""
    total = 0
    for one in with_api_server(pid):
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Stack:
    """`python -m benchmarks.stack` in its own state directory (removed on exit)."""

    def __init__(self, state_dir: Path | None = None, profile: Path | None = None,
                 keep_state: bool = False, taskset: str | None = None,
                 marks: bool = False) -> None:
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="propylon-bench-"))
        self.profile = profile
        self.marks = marks
        self.keep_state = keep_state
        self.taskset = taskset
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.started = 0.0

    async def __aenter__(self) -> Stack:
        await self.start()
        return self

    async def start(self) -> None:
        """Start the stack process; after `kill`, again on the same state directory."""
        ready = self.state_dir / "bench-ready.json"
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "benchmarks.stack", "--state-dir", str(self.state_dir),
               "--ready-file", str(ready)]
        if self.profile is not None:
            cmd += ["--profile", str(self.profile)]
        if self.marks:
            cmd.append("--marks")
        if self.taskset:
            cmd = ["taskset", "-c", self.taskset, *cmd]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=open(self.state_dir / "stack.log", "ab"))
        for _ in range(600):
            if ready.exists() and ready.stat().st_size:
                self.info = json.loads(ready.read_text())
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"stack exited: see {self.state_dir / 'stack.log'}")
            await asyncio.sleep(0.02)
        raise TimeoutError("stack did not start")

    async def kill(self) -> None:
        """SIGKILL the stack process (its API server goes with it, its Envoys keep serving)."""
        assert self.proc is not None
        self.proc.kill()
        await asyncio.to_thread(self.proc.wait)

    async def __aexit__(self, *_: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    @property
    def kubeconfig(self) -> Path:
        return Path(self.info["kubeconfig"])

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    def envoy(self) -> dict[str, Any]:
        """`pid.json` of the (one) Envoy this stack runs: its pid and admin socket path."""
        for pid_file in sorted((self.state_dir / "envoy").glob("*/pid.json")):
            return dict(json.loads(pid_file.read_text()))
        raise RuntimeError("no Envoy running")

    async def stage_marks(self, since: float) -> list[tuple[float, str]]:
        """The stack's `benchmarks.marks` taken since `since` (it runs with `marks=True`)."""
        url = self.info["stats"].rsplit("/", 1)[0] + f"/marks?since={since}"
        async with aiohttp.ClientSession() as s, s.get(url) as resp:
            return [(float(t), str(stage)) for t, stage in await resp.json()]

    async def stats(self) -> dict[str, float]:
        async with aiohttp.ClientSession() as s, s.get(self.info["stats"]) as resp:
            return dict(await resp.json())


class Nginx:
    """nginx as the backend (`return 200 ok` on `port`) or as a reverse proxy to `upstream`."""

    def __init__(self, port: int, upstream: int | None = None, taskset: str | None = None,
                 addresses: int = 1) -> None:
        self.port, self.upstream, self.taskset = port, upstream, taskset
        self.addresses = addresses  # listen on 127.0.0.1 .. 127.0.0.<addresses>
        self.dir = Path(tempfile.mkdtemp(prefix="propylon-nginx-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def _conf(self) -> str:
        if self.upstream is None:
            body = "location / { return 200 'ok'; }"
            upstream = ""
        else:
            upstream = (f"upstream be {{ server 127.0.0.1:{self.upstream}; keepalive 64; }}")
            body = ("location / { proxy_pass http://be; proxy_http_version 1.1; "
                    "proxy_set_header Connection \"\"; }")
        listens = " ".join(f"listen 127.0.0.{1 + k}:{self.port} reuseport;"
                           for k in range(self.addresses))
        return (f"worker_processes 1; daemon off; pid {self.dir}/nginx.pid; "
                f"error_log {self.dir}/error.log warn; user root;\n"
                "events { worker_connections 4096; }\n"
                f"http {{ access_log off; keepalive_requests 1000000; {upstream}\n"
                f"  client_body_temp_path {self.dir}; proxy_temp_path {self.dir};\n"
                "  server { " + listens + f" {body} }} }}\n")

    async def __aenter__(self) -> Nginx:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        (self.dir / "nginx.conf").write_text(self._conf())
        cmd = [nginx, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        if self.taskset:
            cmd = ["taskset", "-c", self.taskset, *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_port(self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        await stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


async def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(proc.wait, 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port}")


# --- probes ----------------------------------------------------------------------------------

async def probe(address: str, port: int, host: str, path: str) -> int:
    """GET `path` with Host `host` on a new connection; the status code, 0 on failure."""
    try:
        reader, writer = await asyncio.open_connection(address, port)
    except OSError:
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode())
        line = await reader.readline()
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 else 0
    except (OSError, ValueError):
        return 0
    finally:
        writer.close()


POLL_GAP_S = 0.001


async def until_status(address: str, port: int, host: str, path: str, want: int,
                       timeout: float = 30.0) -> float:
    """Poll (new connection each time, `POLL_GAP_S` apart) until `want`; the monotonic time it
    was first seen. The gap bounds the error to about a millisecond while keeping the poller
    from taking a whole core of this 2-core machine from the control plane and Envoy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe(address, port, host, path) == want:
            return time.monotonic()
        await asyncio.sleep(POLL_GAP_S)
    raise TimeoutError(f"{host}{path} never answered {want}")


# --- figures ---------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               "unknown")
    commit = os.environ.get("BENCH_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
        text=True).stdout.strip()
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpu": cpu, "cores": os.cpu_count(),
            "load_avg": os.getloadavg()[0], "commit": commit}


@dataclass
class Report:
    """Rows of figures: printed as they come, then written as JSON, Markdown and PNG."""

    name: str
    title: str
    out: Path = RESULTS
    rows: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def write(self, plots: list[tuple[str, str, list[str]]]) -> None:
        """`plots`: (file suffix, x column, y columns) line plots of the rows."""
        self.out.mkdir(parents=True, exist_ok=True)
        meta = machine()
        (self.out / f"{self.name}.json").write_text(json.dumps(
            {"machine": meta, "rows": self.rows, **self.extra}, indent=2))
        (self.out / f"{self.name}.md").write_text(self.markdown(meta))
        for suffix, x, ys in plots:
            self._plot(suffix, x, ys)
        print(self.markdown(meta))

    def markdown(self, meta: dict[str, Any]) -> str:
        cols = list(dict.fromkeys(k for row in self.rows for k in row))
        lines = [f"## {self.title}", "",
                 f"{meta['date']}, commit {meta['commit']}, {meta['cpu']} ({meta['cores']} cores, "
                 f"load average {meta['load_avg']:.2f} at the end)", "",
                 "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in self.rows:
            lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in cols) + " |")
        return "\n".join(lines) + "\n"

    def _plot(self, suffix: str, x: str, ys: list[str]) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [row[x] for row in self.rows]
        categorical = any(isinstance(v, str) for v in xs)
        for y in ys:
            values = [row.get(y, float("nan")) for row in self.rows]
            if categorical:
                ax.bar([f"{v}" for v in xs], values, label=y)
            else:
                ax.plot(xs, values, marker="o", label=y)
        if not categorical and len(xs) > 1 and min(xs) > 0:
            ax.set_xscale("log")
        ax.set_xlabel(x)
        ax.set_title(f"{self.title}: {', '.join(ys)}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(self.out / f"{self.name}-{suffix}.png", dpi=100)
        plt.close(fig)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
