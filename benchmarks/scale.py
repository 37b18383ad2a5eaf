"""Control-plane scale: convergence, route propagation, translation time and memory at N routes.

`python -m benchmarks.scale --routes 100,1000,5000 [--changes 50]` measures, for each N, with a
fresh stack (`benchmarks.stack`: API server + controller + xDS in one process, Envoy in another)
and nginx as the backend of N/10 Services:

- `apply_s`: writing every object (16 parallel clients) until every route is served;
  `statuses_s`: until every route's status is written as well (the apply has settled), and
  `cold_start_s`: restarting the stack on that settled state directory (Envoy included) until
  every route is served again. "Served" = a sample of routes (every 50th and the last) answers
  200 on new connections, then every route is checked once on keep-alive connections;
- route propagation: `--changes` times, one HTTPRoute gets a new path prefix; the time from the
  write to the API server until a GET of the new path on a new connection answers 200
  (`prop_p50_ms`, `prop_p99_ms`); `translate_ms`: controller translation time per pass during
  those changes;
- `cp_rss_mib` / `envoy_rss_mib` after the changes, `cp_cpu_s`: control-plane CPU seconds
  during the changes.

`--profile DIR` runs the control plane under cProfile (one `.prof` per N) for hot-path analysis.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import (
    GATEWAY_PORT,
    Api,
    Nginx,
    Report,
    Stack,
    cpu_seconds,
    free_port,
    host_of,
    median,
    objects,
    pct,
    route,
    rss_mib,
    until_status,
)


async def all_served(address: str, n: int, hosts: int, timeout: float = 120.0) -> float:
    """Wait until every route answers 200; the monotonic time it was first true."""
    step = 50
    sample = sorted({*range(0, n, step), n - 1})
    deadline = time.monotonic() + timeout
    for i in sample:
        await until_status(address, GATEWAY_PORT, host_of(i, hosts), f"/r{i}", 200,
                           deadline - time.monotonic())
    seen = time.monotonic()
    missing = await _check_all(address, n, hosts)
    while missing:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} routes never served")
        missing = await _check_all(address, n, hosts, missing)
        seen = time.monotonic()
    return seen


async def all_statuses(api: Api, n: int, timeout: float = 300.0) -> float:
    """Wait until every HTTPRoute has its status written; the monotonic time it was first
    true."""
    deadline = time.monotonic() + timeout
    while True:
        routes = await api.list("HTTPRoute")
        written = sum(1 for r in routes if (r.get("status") or {}).get("parents"))
        if written >= n:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n - written} route statuses never written")
        await asyncio.sleep(0.25)


async def _check_all(address: str, n: int, hosts: int, which: list[int] | None = None) -> list[int]:
    todo = list(range(n)) if which is None else which
    missing: list[int] = []
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int) -> None:
            url = f"http://{address}:{GATEWAY_PORT}/r{i}"
            async with session.get(url, headers={"Host": host_of(i, hosts)}) as resp:
                await resp.read()
                if resp.status != 200:
                    missing.append(i)
        for start in range(0, len(todo), 256):
            await asyncio.gather(*(one(i) for i in todo[start:start + 256]))
    return missing


async def propagation(api: Api, address: str, n: int, hosts: int, services: int,
                      changes: int, rng: random.Random) -> list[float]:
    """Milliseconds from each write to the first request that sees it."""
    out = []
    for j in range(changes):
        i = rng.randrange(n)
        path = f"/r{i}-c{j}"
        poller = asyncio.create_task(
            until_status(address, GATEWAY_PORT, host_of(i, hosts), path, 200))
        await asyncio.sleep(0)  # the poller is running before the write starts
        started = time.monotonic()
        await api.replace(route(i, hosts, services, path))
        seen = await poller
        out.append((seen - started) * 1000)
        await asyncio.sleep(0.2)  # independent changes, not a burst
    return out


async def one_size(n: int, changes: int, backend_port: int, profile: Path | None,
                   rng: random.Random) -> dict[str, Any]:
    objs, hosts, services = objects(n, backend_port)
    row: dict[str, Any] = {"routes": n, "hostnames": hosts, "services": services}
    stack = Stack(keep_state=True)
    async with stack, Api(stack.kubeconfig) as api:
        started = time.monotonic()
        await api.create_all(objs)
        row["write_s"] = time.monotonic() - started
        address = await api.gateway_address()
        row["apply_s"] = await all_served(address, n, hosts) - started
        row["statuses_s"] = await all_statuses(api, n) - started
    cold = Stack(state_dir=stack.state_dir, profile=profile)
    async with cold, Api(cold.kubeconfig) as api:
        row["cold_start_s"] = await all_served(address, n, hosts) - cold.started
        before, cpu_before = await cold.stats(), cpu_seconds(cold.pid)
        latencies = await propagation(api, address, n, hosts, services, changes, rng)
        after = await cold.stats()
        row["cp_cpu_s"] = cpu_seconds(cold.pid) - cpu_before
        passes = after["translations"] - before["translations"]
        row["translate_ms"] = (after["translation_seconds"] - before["translation_seconds"]) \
            / max(passes, 1) * 1000
        row["passes"] = passes
        row["prop_p50_ms"] = median(latencies)
        row["prop_p99_ms"] = pct(latencies, 99)
        row["prop_max_ms"] = max(latencies)
        row["cp_rss_mib"] = rss_mib(cold.pid)
        row["envoy_rss_mib"] = rss_mib(int(cold.envoy()["pid"]))
    return row


async def main_async(args: argparse.Namespace) -> None:
    report = Report("scale", "Control-plane scale", out=args.out)
    rng = random.Random(args.seed)
    backend_port = free_port()
    async with Nginx(backend_port):
        for n in args.routes:
            profile = args.profile / f"scale-{n}.prof" if args.profile else None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
            report.add(await one_size(n, args.changes, backend_port, profile, rng))
    report.write([("propagation", "routes", ["prop_p50_ms", "prop_p99_ms"]),
                  ("convergence", "routes", ["apply_s", "statuses_s", "cold_start_s"]),
                  ("memory", "routes", ["cp_rss_mib", "envoy_rss_mib"])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routes", type=lambda s: [int(x) for x in s.split(",")], default=[100])
    p.add_argument("--changes", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Report("", "").out)
    p.add_argument("--profile", type=Path, default=None)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
