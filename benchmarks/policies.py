"""Data-plane throughput with policies: a Gateway with a SecurityPolicy and a
BackendTrafficPolicy attached against the same Gateway with none, side by side.

`python -m benchmarks.policies --seconds 10 --rounds 5` runs one stack serving two Gateways,
`bench` (no policy) and `bench-policies`, each with its own Envoy (one worker, as Propylon
starts it, pinned to CPU 0), both with the same `--routes` HTTPRoutes to the same nginx backend
(`return 200 ok`, pinned to CPU 1 with wrk: a backend much faster than the proxy, so the figures
are the proxy's; a Python backend would cap both paths at its own rate). Attached to
`bench-policies` (`targetRefs` the Gateway, so every route is governed):

- SecurityPolicy `cors-jwt`: `cors` (an allowed origin, methods, headers, exposed headers, max
  age) and `jwt` (one provider with a local JWKS: an HS256 key);
- BackendTrafficPolicy `retry-timeout`: `retry` (2 retries on connection failures and 503,
  per-try timeout and back-off), `timeout` (request timeout, TCP connect timeout) and a local
  `rateLimit` (one rule of 10,000,000 requests a second: every request is counted, none refused).

Every request, on both Gateways, carries `Origin: https://app.bench.test` and a JWT the
provider's key signs, so the CORS filter (matches the origin, adds the response headers) and the
JWT filter (verifies the token's signature) do their work on each request of the governed
Gateway. Before measuring, both policies must be Accepted by Propylon, a request to
`bench-policies` must come back with `access-control-allow-origin` (and one to `bench`
without) and one without the token must get 401, so the run measures what it says. wrk (`-t1 -c50`, HTTP/1.1, keep-alive) measures the
two Gateways in turn, `--rounds` times, the order swapped every other round so drift hits both;
each figure is the median over rounds, `ratio` is the median req/s with policies over the median
without, and `paired_ratio` the median over rounds of the same ratio within one round (the two
runs of a round are seconds apart, so load from elsewhere on the machine mostly cancels out).
`cpu_us_per_req` is the CPU time the Gateway's Envoy spent per request served (user + system,
from /proc), the proxy's cost per request, which other load on the machine changes much less
than req/s; `cpu_ratio` compares it with the Gateway without policies.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import (
    GATEWAY,
    GATEWAY_PORT,
    NS,
    Api,
    Nginx,
    Report,
    Stack,
    cpu_seconds,
    free_port,
    host_of,
    median,
    objects,
)
from benchmarks.dataplane import CONNECTIONS, cpus, pin
from benchmarks.scale import all_served
from benchmarks.wrk import run_wrk
from propylon.infra.host.manager import PROXIES_DIR, proxy_dir_name
from propylon.ir.model import GatewayKey

GOVERNED = "bench-policies"
ORIGIN = "https://app.bench.test"
EG = "gateway.envoyproxy.io/v1alpha1"
JWT_KEY = b"propylon-benchmark-hs256-key-of-32b"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWKS = json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": _b64(JWT_KEY)}]})


def token() -> str:
    """A JWT (HS256, subject `bench`) the provider's key verifies."""
    signed = ".".join(_b64(json.dumps(part).encode())
                      for part in ({"alg": "HS256", "typ": "JWT"}, {"sub": "bench"}))
    return f"{signed}.{_b64(hmac.digest(JWT_KEY, signed.encode(), hashlib.sha256))}"


HEADERS = {"Origin": ORIGIN, "Authorization": f"Bearer {token()}"}


def policies(gateway: str) -> list[dict[str, Any]]:
    """The SecurityPolicy and the BackendTrafficPolicy, both targeting Gateway `gateway`."""
    target = {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "name": gateway}]}
    return [
        {"apiVersion": EG, "kind": "SecurityPolicy",
         "metadata": {"name": "cors-jwt", "namespace": NS},
         "spec": {**target,
                  "cors": {"allowOrigins": [ORIGIN], "allowMethods": ["GET", "POST"],
                           "allowHeaders": ["x-request-id"], "exposeHeaders": ["x-bench"],
                           "maxAge": "600s"},
                  "jwt": {"providers": [{"name": "bench", "localJWKS": {
                      "type": "Inline", "inline": JWKS}}]}}},
        {"apiVersion": EG, "kind": "BackendTrafficPolicy",
         "metadata": {"name": "retry-timeout", "namespace": NS},
         "spec": {**target,
                  "retry": {"numRetries": 2,
                            "retryOn": {"triggers": ["connect-failure", "retriable-status-codes"],
                                        "httpStatusCodes": [503]},
                            "perRetry": {"timeout": "2s",
                                         "backOff": {"baseInterval": "100ms",
                                                     "maxInterval": "1s"}}},
                  "timeout": {"http": {"requestTimeout": "10s"},
                              "tcp": {"connectTimeout": "3s"}},
                  # counted on every request, never reached: the cost of the limiter itself
                  "rateLimit": {"type": "Local", "local": {"rules": [
                      {"limit": {"requests": 10_000_000, "unit": "Second"}}]}}}},
    ]


def with_governed_gateway(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`objs` plus Gateway `bench-policies` (a copy of `bench`) as every route's second
    parent."""
    out = []
    for obj in objs:
        if obj["kind"] == "Gateway":
            out.append({**obj, "metadata": {**obj["metadata"], "name": GOVERNED}})
        if obj["kind"] == "HTTPRoute":
            spec = obj["spec"]
            obj = {**obj, "spec": {**spec, "parentRefs": [*spec["parentRefs"],
                                                          {"name": GOVERNED}]}}
        out.append(obj)
    return out


async def accepted(api: Api, kind: str, name: str, timeout: float = 60.0) -> None:
    """Wait until the policy's ancestor status says Accepted True; fail with its message if it
    says False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ancestors = ((await api.get(kind, name)).get("status") or {}).get("ancestors") or []
        conditions = [c for a in ancestors for c in a.get("conditions", [])
                      if c.get("type") == "Accepted"]
        if conditions and all(c["status"] == "True" for c in conditions):
            return
        refused = [c for c in conditions if c["status"] == "False"]
        if refused:
            raise RuntimeError(f"{kind} {name} not accepted: {refused[0].get('message')}")
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{kind} {name} has no Accepted condition")


async def answer(address: str, host: str, path: str,
                 headers: dict[str, str]) -> tuple[int, str | None]:
    """The status and access-control-allow-origin of a request with `headers`."""
    async with aiohttp.ClientSession() as s, s.get(
            f"http://{address}:{GATEWAY_PORT}{path}", headers={"Host": host, **headers}) as resp:
        return resp.status, resp.headers.get("access-control-allow-origin")


async def until_answer(address: str, host: str, path: str, headers: dict[str, str],
                       want: tuple[int, str | None], timeout: float = 60.0) -> None:
    """Wait until a request with `headers` gets `want` (status, allowed origin)."""
    deadline = time.monotonic() + timeout
    while (got := await answer(address, host, path, headers)) != want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address}: {got!r}, not {want!r}")
        await asyncio.sleep(0.1)


async def main_async(args: argparse.Namespace) -> None:
    report = Report("policies", "Data plane with a SecurityPolicy and a BackendTrafficPolicy, "
                    "HTTP/1.1, wrk -t1 -c50", out=args.out)
    proxy_cpu, other_cpu = cpus()
    backend_port = free_port()
    objs, hosts, _ = objects(args.routes, backend_port)
    targets = [(host_of(i, hosts), f"/r{i}") for i in range(min(args.routes, 10))]
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "policies": []}
    async with Nginx(backend_port, taskset=other_cpu), Stack() as stack, \
            Api(stack.kubeconfig) as api:
        await api.create_all(with_governed_gateway(objs))
        addresses = {"none": await api.gateway_address(name=GATEWAY),
                     "policies": await api.gateway_address(name=GOVERNED)}
        for address in addresses.values():
            await all_served(address, args.routes, hosts)
        await api.create_all(policies(GOVERNED))
        for policy in policies(GOVERNED):
            await accepted(api, policy["kind"], policy["metadata"]["name"])
        await until_answer(addresses["policies"], *targets[0], HEADERS, (200, ORIGIN))
        await until_answer(addresses["policies"], *targets[0], {"Origin": ORIGIN}, (401, ORIGIN))
        await until_answer(addresses["none"], *targets[0], HEADERS, (200, None))
        urls = {name: f"http://{address}:{GATEWAY_PORT}" for name, address in addresses.items()}
        pids = {name: envoy_pid(stack, gateway)
                for name, gateway in (("none", GATEWAY), ("policies", GOVERNED))}
        for pid in pids.values():
            pin(pid, proxy_cpu)
        for round_ in range(args.rounds):
            order = list(urls) if round_ % 2 == 0 else list(reversed(urls))
            for name in order:
                before = cpu_seconds(pids[name])
                fig = await run_wrk(urls[name], targets, args.seconds, CONNECTIONS,
                                    taskset=other_cpu, headers=HEADERS)
                fig["cpu_us_per_req"] = ((cpu_seconds(pids[name]) - before) * 1e6
                                         / fig["requests"] if fig["requests"] else float("nan"))
                runs[name].append(fig)
    base = median([r["rps"] for r in runs["none"]])
    base_cpu = median([r["cpu_us_per_req"] for r in runs["none"]])
    for name, figs in runs.items():
        rps = median([r["rps"] for r in figs])
        cpu = median([r["cpu_us_per_req"] for r in figs])
        report.add({"path": name, "rps": rps,
                    "p50_ms": median([r["p50_ms"] for r in figs]),
                    "p99_ms": median([r["p99_ms"] for r in figs]),
                    "non_2xx": sum(r["non_2xx"] + r["socket_errors"] for r in figs),
                    "ratio": rps / base if base else float("nan"),
                    "paired_ratio": median([r["rps"] / b["rps"] for r, b in
                                            zip(figs, runs["none"], strict=True) if b["rps"]]),
                    "cpu_us_per_req": cpu,
                    "cpu_ratio": cpu / base_cpu if base_cpu else float("nan"),
                    "rounds_rps": " ".join(f"{r['rps']:.0f}" for r in figs)})
    report.write([("rps", "path", ["rps"]), ("latency", "path", ["p50_ms", "p99_ms"]),
                  ("cpu", "path", ["cpu_us_per_req"])])


def envoy_pid(stack: Stack, gateway: str) -> int:
    """The pid of the Envoy serving Gateway `gateway`."""
    pid_file = stack.state_dir / PROXIES_DIR / proxy_dir_name(GatewayKey(NS, gateway)) / "pid.json"
    return int(json.loads(pid_file.read_text())["pid"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--routes", type=int, default=10, help="routes of each Gateway")
    p.add_argument("--out", type=Path, default=Report("", "").out)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
