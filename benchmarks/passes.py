"""Translation time of a one-route pass, in process, with no stack: the controller's pass alone.

`python -m benchmarks.passes --routes 5000 --changes 400` builds the objects `benchmarks.scale`
applies (N routes over N/10 hostnames and Services, one Gateway with an address), runs
`translate(snapshot, memo)` with one long-lived `Memo` as the controller does (now = WRITE_TIME)
until it settles, then changes one route's path at a time and prints the median CPU time of
those passes in ms (`time.process_time`, so other processes on the machine count less).

To compare two trees side by side, run it alternately with each tree's `src` first on
PYTHONPATH, e.g. `PYTHONPATH=../main/src:. python -m benchmarks.passes`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from benchmarks.common import objects, route
from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import Memo, Snapshot, translate
from propylon.translate.types import WRITE_TIME

CREATED = "2026-01-01T00:00:00Z"


def _stamp(obj: dict[str, Any], uid: str, version: int) -> dict[str, Any]:
    """`obj` with the metadata an API server gives (the memo keys objects on it)."""
    obj["metadata"].update(uid=uid, resourceVersion=str(version), generation=version,
                           creationTimestamp=CREATED)
    return obj


def pass_ms(n: int, changes: int) -> float:
    """The median CPU time of `changes` one-route passes at `n` routes, in ms."""
    objs, hosts, services = objects(n, 9001)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for k, obj in enumerate(objs):
        by_kind.setdefault(obj["kind"], []).append(_stamp(obj, f"u{k}", 1))
    gateway = by_kind["Gateway"][0]
    key = GatewayKey(gateway["metadata"]["namespace"], gateway["metadata"]["name"])
    port = gateway["spec"]["listeners"][0]["port"]
    infra = {key: InfraState(key, "127.0.0.9", (PortState(port, port),), True)}

    def snapshot() -> Snapshot:
        return Snapshot({kind: tuple(v) for kind, v in by_kind.items()}, infra, now=WRITE_TIME)

    memo = Memo()
    for _ in range(3):
        translate(snapshot(), memo)
    times = []
    routes = by_kind["HTTPRoute"]
    for change in range(changes):
        i = (change * 7919) % n
        routes[i] = _stamp(route(i, hosts, services, path=f"/c{change}"), f"r{i}", change + 2)
        taken = snapshot()
        start = time.process_time()
        translate(taken, memo)
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--routes", type=int, default=5000)
    p.add_argument("--changes", type=int, default=400)
    args = p.parse_args()
    print(f"{pass_ms(args.routes, args.changes):.3f}")


if __name__ == "__main__":
    main()
