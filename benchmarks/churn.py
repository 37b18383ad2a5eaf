"""Configuration churn under load: errors and latency while routes and endpoints change.

`python -m benchmarks.churn --routes 100 --seconds 20` starts the stack with N routes (nginx as
the backend, listening on 127.0.0.1-4 so EndpointSlices can scale), then runs wrk twice over the
same routes (`--loaded` of them, spread over hostnames):

1. quiet: nothing changes (the baseline);
2. churn: meanwhile, every `--interval` seconds one operation, in turn: a new HTTPRoute on a
   loaded hostname (its propagation to the first 200 on a new connection is timed, under load),
   a changed path on another route of a loaded hostname, the removal of the route added before,
   and the EndpointSlice of a loaded Service scaled up (1 -> 4 endpoints) or back down.

It reports req/s, p50/p99, non-2xx responses and socket errors for both phases, and the
propagation of the added routes under load. Zero non-2xx and zero errors is the target.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    GATEWAY_PORT,
    Api,
    Nginx,
    Report,
    Stack,
    endpoint_slice,
    free_port,
    host_of,
    median,
    objects,
    pct,
    route,
    until_status,
)
from benchmarks.scale import all_served
from benchmarks.wrk import run_wrk


async def churn(api: Api, address: str, n: int, hosts: int, services: int, loaded: list[int],
                backend_port: int, seconds: float, interval: float) -> dict[str, Any]:
    """Change things until `seconds` passed; counts and propagation of the added routes."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    ops = 0
    step = 0
    scaled: dict[int, bool] = {}
    while time.monotonic() < deadline:
        kind = step % 4
        target = loaded[step // 4 % len(loaded)]
        # a route index beyond the initial ones, on the target's hostname
        new_index = (-(-n // hosts) + step // 4) * hosts + target % hosts
        if kind == 0:
            obj = route(new_index, hosts, services)
            started = time.monotonic()
            await api.create(obj)
            seen = await until_status(address, GATEWAY_PORT, host_of(new_index, hosts),
                                      f"/r{new_index}", 200)
            latencies.append((seen - started) * 1000)
        elif kind == 1:
            other = target + hosts if target + hosts < n else target - hosts
            if other >= 0 and other not in loaded:
                await api.replace(route(other, hosts, services, f"/r{other}-s{step}"))
        elif kind == 2:
            await api.delete("HTTPRoute", f"route-{new_index}")
        else:
            s = target % services
            scaled[s] = not scaled.get(s, False)
            ports = [backend_port] * (4 if scaled[s] else 1)
            await api.replace(endpoint_slice(s, ports))
        ops += 1
        step += 1
        await asyncio.sleep(max(0.0, interval - 0.001))
    return {"ops": ops, "prop_under_load_p50_ms": median(latencies),
            "prop_under_load_p99_ms": pct(latencies, 99)}


async def main_async(args: argparse.Namespace) -> None:
    report = Report("churn", "Churn under load", out=args.out)
    backend_port = free_port()
    n = args.routes
    objs, hosts, services = objects(n, backend_port)
    loaded = list(range(0, n, max(1, n // args.loaded)))[:args.loaded]
    targets = [(host_of(i, hosts), f"/r{i}") for i in loaded]
    async with Nginx(backend_port, addresses=4), Stack() as stack, Api(stack.kubeconfig) as api:
        await api.create_all(objs)
        address = await api.gateway_address()
        await all_served(address, n, hosts)
        url = f"http://{address}:{GATEWAY_PORT}"
        quiet = await run_wrk(url, targets, args.seconds, args.connections)
        report.add({"phase": "quiet", **quiet})
        load = asyncio.create_task(run_wrk(url, targets, args.seconds, args.connections))
        await asyncio.sleep(0.5)  # wrk is connected before the first change
        changes = await churn(api, address, n, hosts, services, loaded, backend_port,
                              args.seconds - 1.5, args.interval)
        busy = await load
        report.add({"phase": "churn", **busy, **changes})
    report.extra["p99_ratio_churn_vs_quiet"] = busy["p99_ms"] / quiet["p99_ms"]
    print(f"p99 during churn / quiet: {report.extra['p99_ratio_churn_vs_quiet']:.2f}")
    report.write([("latency", "phase", ["p50_ms", "p99_ms"])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routes", type=int, default=100)
    p.add_argument("--loaded", type=int, default=10, help="routes under wrk load")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--interval", type=float, default=0.1, help="seconds between changes")
    p.add_argument("--connections", type=int, default=20)
    p.add_argument("--out", type=Path, default=Report("", "").out)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
