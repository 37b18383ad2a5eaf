"""Faults under load: failed requests and time to serve again, per fault.

`python -m benchmarks.faults --rounds 3` starts the stack (`benchmarks.stack`) with one Gateway
(HTTP on 8080) whose route `/r0` goes to a `propylon echo` backend, keeps `--clients` clients
sending GETs to it on new connections (loopback only), and injects each fault `--rounds` times,
in this order:

- `envoy_kill`: SIGKILL the Gateway's Envoy (the host infrastructure manager starts another).
  `recovered_s`: from the kill to the first 200 answered to a request sent after the last failed
  one. Target: failures only among requests sent within 1 s of the kill, serving again within 1 s.
  Rounds are `proxy_supervisor.STABLE_AFTER` (30 s) and two of its 1 s polls apart: an Envoy
  that dies again sooner is restarted after a backoff (0.5 s, doubling), as a crash loop would
  be, and each round measures a first death.
- `control_plane_stop`: SIGSTOP the stack process for `--stop-seconds`, write a new route
  meanwhile (the API server runs in a child process and answers), SIGCONT. `recovered_s`: from
  SIGCONT until the new route answers 200. Target: 0 failed requests.
- `control_plane_restart`: SIGKILL the stack process (its API server goes with it, Envoy keeps
  serving) and start it again on the same state directory, then write a new route.
  `recovered_s`: from the kill until the new route answers 200 (the restart included). Target:
  0 failed requests.
- `apiserver_kill`: SIGKILL the API server child process. `recovered_s`: from the kill until
  `kubectl get namespaces` answers again (kubectl run in a loop, so the figure includes one
  kubectl run). Target: 0 failed requests, kubectl answers within 5 s. If it does not answer
  within `--kubectl-timeout`, `recovered_s` is null ("None") and the fault's remaining rounds
  are skipped. Rounds are 60 s apart, the API server supervisor's crash window: deaths closer
  together are restarted after a growing delay, and the fifth within the window stops the stack.

A request fails when it gets any answer but 200 or none. Each round prints a JSON line
(requests and failures counted from the start of the round to its end, `failed_late`: failures
of requests sent more than 1 s after the signal); the report has one row per fault (requests,
failed, failed_late, recovered median and max, whether the target was met) and the rounds in its
JSON. The script exits with status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import (
    GATEWAY_PORT,
    Api,
    Report,
    Stack,
    free_port,
    host_of,
    median,
    objects,
    probe,
    route,
    until_status,
    wait_port,
    with_api_server,
)
from propylon.apiserver.process import CRASH_WINDOW_S
from propylon.infra.host.proxy_supervisor import STABLE_AFTER

BIN = Path(sys.executable).parent
HOST = host_of(0, 1)
LATE_AFTER_S = 1.0  # failures of requests sent later than this after the signal are late
ENVOY_SERVES_AGAIN_S = 1.0
KUBECTL_ANSWERS_S = 5.0
FAULTS = ("envoy_kill", "control_plane_stop", "control_plane_restart", "apiserver_kill")


@dataclass
class Load:
    """Clients sending GET /r0 on new connections; every request's times and outcome."""

    address: str
    clients: int
    requests: list[tuple[float, float, bool]] = field(default_factory=list)  # sent, done, 200
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(self.clients)]

    async def _client(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            ok = await probe(self.address, GATEWAY_PORT, HOST, "/r0") == 200
            self.requests.append((sent, time.monotonic(), ok))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def sent_since(self, moment: float) -> list[tuple[float, float, bool]]:
        return [r for r in self.requests if r[0] >= moment]

    async def answered_since(self, moment: float, count: int, timeout: float = 60.0) -> None:
        """Wait until `count` requests sent after `moment` were answered 200."""
        deadline = time.monotonic() + timeout
        while sum(ok for _, _, ok in self.sent_since(moment)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} requests answered 200 in {timeout} s")
            await asyncio.sleep(0.01)


@dataclass
class Bench:
    """The stack under test, the load on it and the routes written so far."""

    stack: Stack
    address: str
    load: Load
    routes: int = 1

    async def new_route(self) -> str:
        """Write a new route on the loaded host; the path it answers on. A session of its own
        each time: the API server may have been restarted since the last one."""
        i = self.routes
        self.routes += 1
        async with Api(self.stack.kubeconfig) as api:
            await api.create(route(i, 1, 1))
        return f"/r{i}"

    async def served(self, path: str) -> float:
        return await until_status(self.address, GATEWAY_PORT, HOST, path, 200, timeout=60.0)

    def envoy_pid(self) -> int:
        return int(self.stack.envoy()["pid"])


async def envoy_kill(bench: Bench) -> tuple[float, float]:
    envoy = bench.envoy_pid()
    killed = time.monotonic()
    os.kill(envoy, signal.SIGKILL)
    deadline = killed + 60.0
    while bench.envoy_pid() == envoy or not any(ok for _, _, ok in bench.load.sent_since(killed)):
        if time.monotonic() > deadline:
            raise TimeoutError("the killed Envoy was not replaced")
        await asyncio.sleep(0.01)
    await bench.load.answered_since(killed, 20)
    since_kill = bench.load.sent_since(killed)
    last_failure = max((sent for sent, _, ok in since_kill if not ok), default=killed)
    answered = min(done for sent, done, ok in since_kill if ok and sent >= last_failure)
    return killed, answered - killed


async def control_plane_stop(bench: Bench, stop_seconds: float) -> tuple[float, float]:
    pid = bench.stack.pid
    stopped = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        path = await bench.new_route()
        await asyncio.sleep(max(0.0, stopped + stop_seconds - time.monotonic()))
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    return stopped, await bench.served(path) - resumed


async def control_plane_restart(bench: Bench) -> tuple[float, float]:
    killed = time.monotonic()
    await bench.stack.kill()
    await bench.stack.start()
    path = await bench.new_route()
    return killed, await bench.served(path) - killed


async def kubectl_answers(kubeconfig: Path, cache: Path) -> bool:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache),
        "--request-timeout=2s", "get", "namespaces",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return await proc.wait() == 0


async def apiserver_kill(bench: Bench, timeout: float) -> tuple[float, float | None]:
    kubeconfig, cache = bench.stack.kubeconfig, bench.stack.state_dir / "kubectl-cache"
    if not await kubectl_answers(kubeconfig, cache):
        raise RuntimeError("kubectl does not answer before the API server is killed")
    [apiserver] = with_api_server(bench.stack.pid)[1:]
    killed = time.monotonic()
    os.kill(apiserver, signal.SIGKILL)
    while time.monotonic() < killed + timeout:
        if await kubectl_answers(kubeconfig, cache):
            return killed, time.monotonic() - killed
        await asyncio.sleep(0.05)
    return killed, None


@dataclass
class Fault:
    name: str
    inject: Callable[[Bench], Awaitable[tuple[float, float | None]]]  # signalled, recovered_s
    zero_failures: bool  # the promise is 0 failed requests (else: failures only in the first 1 s)
    recovered_within: float | None  # target on recovered_s, if any
    apart: float = 0.0  # seconds from the end of a round to the next signal

    def met(self, failed: int, late: int, recovered: float | None) -> bool:
        if (failed if self.zero_failures else late) != 0 or recovered is None:
            return False
        return self.recovered_within is None or recovered <= self.recovered_within


async def run_fault(bench: Bench, fault: Fault, rounds: int, settle: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in range(1, rounds + 1):
        if rows:
            await asyncio.sleep(fault.apart)
        start = time.monotonic()
        await bench.load.answered_since(start, 20)
        signalled, recovered = await fault.inject(bench)
        await bench.load.answered_since(time.monotonic(), 20)
        await asyncio.sleep(settle)  # failures that come late, if any, fall in this round
        requests = bench.load.sent_since(start)
        failures = [sent for sent, _, ok in requests if not ok]
        row = {"fault": fault.name, "round": n, "requests": len(requests),
               "failed": len(failures),
               "failed_late": sum(1 for at in failures if at > signalled + LATE_AFTER_S),
               "recovered_s": None if recovered is None else round(recovered, 4)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if recovered is None:  # it did not recover: later rounds would measure nothing
            break
    return rows


def summary(fault: Fault, rows: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    recovered = [r["recovered_s"] for r in rows]
    failed = sum(r["failed"] for r in rows)
    late = sum(r["failed_late"] for r in rows)
    never = None in recovered  # then the median and the max are "never" (None) too
    worst = None if never else max(recovered)
    return {"fault": fault.name, "rounds": f"{len(rows)}/{rounds}",
            "requests": sum(r["requests"] for r in rows), "failed": failed, "failed_late": late,
            "recovered_p50_s": None if never else median(recovered), "recovered_max_s": worst,
            "met": "yes" if len(rows) == rounds and fault.met(failed, late, worst) else "no"}


async def main_async(args: argparse.Namespace) -> bool:
    report = Report("faults", "Faults under load", out=args.out)
    wanted = args.faults.split(",")
    unknown = set(wanted) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown fault(s) {', '.join(sorted(unknown))}: choose from "
                         f"{', '.join(FAULTS)}")
    faults = [fault for fault in [
        Fault("envoy_kill", envoy_kill, zero_failures=False,
              recovered_within=ENVOY_SERVES_AGAIN_S, apart=STABLE_AFTER + 2.0),
        Fault("control_plane_stop", lambda b: control_plane_stop(b, args.stop_seconds),
              zero_failures=True, recovered_within=None),
        Fault("control_plane_restart", control_plane_restart, zero_failures=True,
              recovered_within=None),
        Fault("apiserver_kill", lambda b: apiserver_kill(b, args.kubectl_timeout),
              zero_failures=True, recovered_within=KUBECTL_ANSWERS_S,
              apart=CRASH_WINDOW_S),
    ] if fault.name in wanted]
    backend_port = free_port()
    echo = subprocess.Popen([str(BIN / "propylon"), "echo", "--listen",
                             f"127.0.0.1:{backend_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    envoys: set[int] = set()
    rounds: list[dict[str, Any]] = []
    try:
        await wait_port(backend_port)
        async with Stack() as stack:
            async with Api(stack.kubeconfig) as api:
                await api.create_all(objects(1, backend_port)[0])
                address = await api.gateway_address()
            await until_status(address, GATEWAY_PORT, HOST, "/r0", 200)
            bench = Bench(stack, address, Load(address, args.clients))
            bench.load.start()
            try:
                for fault in faults:
                    envoys.add(bench.envoy_pid())
                    rows = await run_fault(bench, fault, args.rounds, args.settle)
                    envoys.add(bench.envoy_pid())
                    rounds.extend(rows)
                    report.add(summary(fault, rows, args.rounds))
            finally:
                await bench.load.stop()
    finally:
        echo.terminate()
        echo.wait(timeout=10)
        for pid in envoys:  # whatever state the stack was left in, no Envoy outlives the run
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    report.extra["rounds"] = rounds
    report.write([])
    missed = [row["fault"] for row in report.rows if row["met"] != "yes"]
    print(f"{len(faults)} faults, {args.rounds} rounds each: "
          + (f"target missed by {', '.join(missed)}" if missed else "every target met"))
    return not missed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="times each fault is injected")
    p.add_argument("--faults", default=",".join(FAULTS),
                   help=f"which faults, comma-separated (default: all, {', '.join(FAULTS)})")
    p.add_argument("--clients", type=int, default=2, help="clients sending requests")
    p.add_argument("--stop-seconds", type=float, default=5.0, help="how long SIGSTOP lasts")
    p.add_argument("--kubectl-timeout", type=float, default=30.0,
                   help="give up on the API server coming back after this many seconds")
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds of load after each recovery, counted in its round")
    p.add_argument("--out", type=Path, default=Report("", "").out)
    sys.exit(0 if asyncio.run(main_async(p.parse_args())) else 1)


if __name__ == "__main__":
    main()
