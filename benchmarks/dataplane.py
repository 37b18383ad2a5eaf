"""Data-plane throughput: the backend direct, Propylon's Envoy, a minimal Envoy, nginx.

`python -m benchmarks.dataplane --seconds 10 --rounds 3` measures req/s and p50/p99 with
`wrk -t1 -c50` (HTTP/1.1, keep-alive) on the same route for four paths, side by side:

- `direct`: wrk -> nginx backend (`return 200 ok`), the limit of this machine;
- `propylon`: wrk -> the Envoy that Propylon's stack runs for a Gateway with `--routes` routes
  (one worker, as Propylon starts it) -> backend;
- `minimal-envoy`: wrk -> a hand-written static Envoy config with one route and one cluster,
  one worker -> backend;
- `nginx-proxy`: wrk -> nginx reverse proxy (1 worker, upstream keep-alive) -> backend.

Pinning, the same for every path: the proxy on CPU 0, the backend and wrk on CPU 1 (with one
CPU, everything shares it). The paths are measured in turn, `--rounds` times, and each figure is
the median over rounds. `ratio_vs_minimal` is req/s over the minimal Envoy's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    GATEWAY_PORT,
    Api,
    Nginx,
    Report,
    Stack,
    free_port,
    host_of,
    median,
    objects,
    stop_process,
    wait_port,
)
from benchmarks.scale import all_served
from benchmarks.wrk import run_wrk
from propylon.infra.host.envoy_process import find_envoy
from propylon.xds.bootstrap import pipe_address

CONNECTIONS = 50


def cpus() -> tuple[str, str]:
    """(proxy CPU, backend + wrk CPU)."""
    n = os.cpu_count() or 1
    return ("0", "1") if n > 1 else ("0", "0")


def minimal_envoy_config(port: int, admin: Path, backend_port: int, host: str,
                         path: str) -> dict[str, Any]:
    """One listener, one virtual host, one prefix route, one static cluster; admin on the Unix
    socket `admin`, as Propylon's Envoys."""
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                 ".v3.HttpConnectionManager",
        "stat_prefix": "minimal",
        "route_config": {"virtual_hosts": [{"name": "vh", "domains": [host],
                                            "routes": [{"match": {"prefix": path},
                                                        "route": {"cluster": "backend"}}]}]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    }
    return {
        "admin": {"address": pipe_address(admin, 0o600)},
        "static_resources": {
            "listeners": [{"name": "http", "address": {"socket_address": {
                "address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}]}],
            "clusters": [{"name": "backend", "type": "STATIC", "connect_timeout": "1s",
                          "load_assignment": {"cluster_name": "backend", "endpoints": [{
                              "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                                  "address": "127.0.0.1", "port_value": backend_port}}}}]}]}}],
        },
    }


class MinimalEnvoy:
    def __init__(self, backend_port: int, host: str, path: str, cpu: str) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="propylon-envoy-"))
        self.config = minimal_envoy_config(self.port, self.dir / "admin.sock", backend_port, host,
                                           path)
        self.cpu = cpu
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> "MinimalEnvoy":
        conf = self.dir / "envoy.json"
        conf.write_text(json.dumps(self.config))
        self.proc = subprocess.Popen(
            ["taskset", "-c", self.cpu, find_envoy(), "-c", str(conf), "--concurrency", "1",
             "--disable-hot-restart", "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "envoy.log", "ab"))
        await wait_port(self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        await stop_process(self.proc)


def pin(pid: int, cpu: str) -> None:
    """Pin every thread of `pid` to `cpu`."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True,
                   stdout=subprocess.DEVNULL)


async def main_async(args: argparse.Namespace) -> None:
    report = Report("dataplane", "Data plane, HTTP/1.1, wrk -t1 -c50", out=args.out)
    proxy_cpu, other_cpu = cpus()
    backend_port, proxy_port = free_port(), free_port()
    objs, hosts, _ = objects(args.routes, backend_port)
    host, path = host_of(0, hosts), "/r0"
    runs: dict[str, list[dict[str, Any]]] = {}
    async with Nginx(backend_port, taskset=other_cpu), \
            Nginx(proxy_port, upstream=backend_port, taskset=proxy_cpu), \
            MinimalEnvoy(backend_port, host, path, proxy_cpu) as minimal, \
            Stack() as stack, Api(stack.kubeconfig) as api:
        await api.create_all(objs)
        address = await api.gateway_address()
        await all_served(address, args.routes, hosts)
        pin(int(stack.envoy()["pid"]), proxy_cpu)
        urls = {"direct": f"http://127.0.0.1:{backend_port}",
                "propylon": f"http://{address}:{GATEWAY_PORT}",
                "minimal-envoy": f"http://127.0.0.1:{minimal.port}",
                "nginx-proxy": f"http://127.0.0.1:{proxy_port}"}
        for _ in range(args.rounds):
            for name, url in urls.items():
                fig = await run_wrk(url, [(host, path)], args.seconds, CONNECTIONS,
                                    taskset=other_cpu)
                runs.setdefault(name, []).append(fig)
    minimal_rps = median([r["rps"] for r in runs["minimal-envoy"]])
    for name, figs in runs.items():
        rps = median([r["rps"] for r in figs])
        report.add({"path": name, "rps": rps,
                    "p50_ms": median([r["p50_ms"] for r in figs]),
                    "p99_ms": median([r["p99_ms"] for r in figs]),
                    "non_2xx": sum(r["non_2xx"] for r in figs),
                    "ratio_vs_minimal": rps / minimal_rps if minimal_rps else float("nan"),
                    "rounds": len(figs)})
    report.write([("rps", "path", ["rps"]), ("latency", "path", ["p50_ms", "p99_ms"])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--routes", type=int, default=10, help="routes of Propylon's Gateway")
    p.add_argument("--out", type=Path, default=Report("", "").out)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
