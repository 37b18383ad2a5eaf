"""Where a route change's time goes: API write, watch, pass, translation, xDS, Envoy.

`python -m benchmarks.stages --routes 5000 --changes 30` applies N routes (as `benchmarks.scale`
does), waits until every route is served and every status written, then changes one route's
path at a time, as `scale` does, with the stack's stage timestamps on (`benchmarks.marks`).
For each change it takes, after the write started (t0):

- `write_ms`: the API server answered the write;
- `watched_ms`: the controller's informer applied the route's watch event;
- `pass_ms`: the pass that took the change ended its translation (`translated`), and
  `published_ms`: that pass handed the Gateway's xDS to the snapshot cache;
- `acked_ms`: Envoy acknowledged the virtual host that carries the change;
- `seen_ms`: the first request on a new connection saw the new path (the propagation figure).

It prints the medians (and p90) of each, and writes them as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
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
    pct,
    route,
    until_status,
)
from benchmarks.scale import all_served, all_statuses

STAGES = ("write_ms", "watched_ms", "pass_ms", "published_ms", "acked_ms", "seen_ms")


def _first(marks: list[tuple[float, str]], stage: str, after: float) -> float | None:
    return next((t for t, s in marks if s == stage and t >= after), None)


def timeline(t0: float, written: float, seen: float,
             marks: list[tuple[float, str]]) -> dict[str, float | None]:
    """The stage times of one change, in ms after `t0` (None when a stage was not seen)."""
    watched = _first(marks, "event:HTTPRoute", t0)
    translated = _first(marks, "translated", watched) if watched is not None else None
    published = _first(marks, "published", translated) if translated is not None else None
    acked = _first(marks, "ack:VirtualHost", published) if published is not None else None

    def ms(t: float | None) -> float | None:
        return None if t is None else (t - t0) * 1000

    return {"write_ms": ms(written), "watched_ms": ms(watched), "pass_ms": ms(translated),
            "published_ms": ms(published), "acked_ms": ms(acked), "seen_ms": ms(seen)}


async def run(n: int, changes: int, rng: random.Random) -> list[dict[str, float | None]]:
    backend_port = free_port()
    objs, hosts, services = objects(n, backend_port)
    out = []
    async with Nginx(backend_port), Stack(marks=True) as stack, Api(stack.kubeconfig) as api:
        await api.create_all(objs)
        address = await api.gateway_address()
        await all_served(address, n, hosts)
        await all_statuses(api, n)
        for j in range(changes):
            i = rng.randrange(n)
            path = f"/r{i}-s{j}"
            poller = asyncio.create_task(
                until_status(address, GATEWAY_PORT, host_of(i, hosts), path, 200))
            await asyncio.sleep(0)
            t0 = time.monotonic()
            await api.replace(route(i, hosts, services, path))
            written = time.monotonic()
            seen = await poller
            await asyncio.sleep(0.2)  # the status write and its echo are done
            out.append(timeline(t0, written, seen, await stack.stage_marks(t0)))
    return out


def summary(n: int, rows: list[dict[str, float | None]]) -> dict[str, Any]:
    row: dict[str, Any] = {"routes": n, "changes": len(rows)}
    for stage in STAGES:
        values = [r[stage] for r in rows if r[stage] is not None]
        row[f"{stage[:-3]}_p50_ms"] = median(values)  # type: ignore[arg-type]
        row[f"{stage[:-3]}_p90_ms"] = pct(values, 90)  # type: ignore[arg-type]
    return row


async def main_async(args: argparse.Namespace) -> None:
    report = Report("stages", "Where a route change's time goes", out=args.out)
    rng = random.Random(args.seed)
    for n in args.routes:
        report.add(summary(n, await run(n, args.changes, rng)))
    report.write([("stages", "routes", [f"{s[:-3]}_p50_ms" for s in STAGES])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routes", type=lambda s: [int(x) for x in s.split(",")], default=[100])
    p.add_argument("--changes", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Report("", "").out)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
