"""Whatever sequence of good and bad snapshots a real Envoy is sent, and however far it got with
each, it ends with exactly the good parts of the last one (read from its config dump), and the
xDS server reports exactly the bad ones (Hypothesis; the counterpart with a real Envoy of
`test_stream_converges`).

Bad pieces are built into the IR, where nothing validates them: route entries whose regex RE2
refuses, a certificate Secret whose key does not match its certificate, a listener whose address
is not an IP address.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propylon.ir import model as ir
from propylon.xds.translate import translate
from tests.certificates import self_signed
from xds_support import (
    BackendFactory,
    EnvoyFactory,
    EnvoyProcess,
    XdsFixture,
    config_dump,
    free_port,
)

NODE = "default/converge"
HOSTS = ("h1", "h2", "h3")
ROUTES = ("g0", "g1", "g2", "g3", "b0", "b1")  # g: good, b: a regex Envoy refuses
PAIRS = {"A": self_signed("a.example", serial=1), "B": self_signed("a.example", serial=2)}
CONVERGED_S = 20.0


@dataclass(frozen=True)
class Step:
    hosts: dict[str, list[str]]  # host -> route tokens, in order
    moved: frozenset[str]  # good routes sent to cluster b instead of a
    secret: str | None  # "A", "B": a good certificate; "bad": key of B, certificate of A
    bad_listener: bool
    answers: int  # how many ACKs or NACKs to wait for before the next step

    def route(self, host: str, token: str) -> ir.Route:
        name = f"{host}-{token}"
        if token.startswith("b"):
            return ir.Route(name, ir.RouteMatch(ir.PathMatch(
                "RegularExpression", f"/(?<=bar){token}")), backends=(ir.WeightedBackend("a", 1),))
        return ir.Route(name, ir.RouteMatch(ir.PathMatch("PathPrefix", f"/{token}")),
                        backends=(ir.WeightedBackend("b" if token in self.moved else "a", 1),))

    def gateway(self, ports: tuple[int, int, int], backend: int) -> ir.GatewayIR:
        """The Gateway of this step; `ports`: its HTTP, HTTPS and bad listeners'."""
        http, https, bad = ports
        listeners = [ir.Listener("http", "127.0.0.1", http, http, "HTTP", route_config="rc")]
        secrets: tuple[ir.Secret, ...] = ()
        if self.secret is not None:
            cert = PAIRS["A" if self.secret == "bad" else self.secret][0]
            key = PAIRS["B" if self.secret == "bad" else self.secret][1]
            secrets = (ir.Secret("s", cert, key),)
            listeners.append(ir.Listener("https", "127.0.0.1", https, https, "HTTPS",
                                         tls_chains=(ir.TLSFilterChain("https", (), ("s",),
                                                                       "rc"),)))
        if self.bad_listener:
            listeners.append(ir.Listener("bad", "not-an-ip", bad, bad, "HTTP",
                                         route_config="rc"))
        return ir.GatewayIR(
            key=ir.GatewayKey("default", "converge"), listeners=tuple(listeners),
            route_configs=(ir.RouteConfig("rc", tuple(
                ir.VirtualHost(f"rc/{h}", (h,), tuple(self.route(h, t) for t in tokens))
                for h, tokens in sorted(self.hosts.items()))),),
            clusters=tuple(ir.Cluster(n, (ir.Endpoint("127.0.0.1", backend),)) for n in "ab"),
            secrets=secrets)


steps = st.lists(st.builds(
    Step,
    st.dictionaries(st.sampled_from(HOSTS), st.lists(st.sampled_from(ROUTES), unique=True,
                                                     max_size=5), min_size=1),
    st.frozensets(st.sampled_from(ROUTES[:4])),
    st.sampled_from((None, "A", "B", "bad")), st.booleans(), st.integers(0, 3)),
    min_size=1, max_size=4)


@pytest.fixture
async def envoy(xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory
                ) -> tuple[EnvoyProcess, tuple[int, int, int], int]:
    """One Envoy for every example of a run (Hypothesis shares function-scoped fixtures), with
    its listener ports and the backend's port."""
    ports, backend = (free_port(), free_port(), free_port()), await backend_factory("app")
    xds.cache.set(NODE, translate(Step({"h1": []}, frozenset(), None, False, 0).gateway(
        ports, backend)))
    return await envoy_factory(NODE, xds.port), ports, backend


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=steps)
async def test_envoy_serves_exactly_the_good_parts_of_the_last_snapshot(
        sequence: list[Step], xds: XdsFixture,
        envoy: tuple[EnvoyProcess, tuple[int, int, int], int]) -> None:
    process, ports, backend = envoy
    counters = xds.server.counters(NODE)
    for step in sequence:
        answered = sum(counters.acks.values()) + sum(counters.nacks.values())
        xds.cache.set(NODE, translate(step.gateway(ports, backend)))
        for _ in range(step.answers):
            answered += 1
            await _answered(counters, answered)
    last = sequence[-1]
    want = expected(last)
    deadline = asyncio.get_running_loop().time() + CONVERGED_S
    while True:
        got = served(await config_dump(process))
        reported = xds.cache.rejections().get(NODE, ir.Rejections())
        if _matches(got, want) and set(reported.routes) == want["refused routes"] and (
                "bad" in reported.listeners) == last.bad_listener:
            break
        assert asyncio.get_running_loop().time() < deadline, (got, want, reported)
        await asyncio.sleep(0.05)


async def _answered(counters: Any, total: int) -> None:
    """Wait until the node answered `total` responses in all, or has nothing in flight (at most
    about 2 s: this only drives the interleaving, any point of it is a valid case)."""
    for _ in range(200):
        answers = sum(counters.acks.values()) + sum(counters.nacks.values())
        if answers >= total or answers >= sum(counters.pushes.values()):
            return
        await asyncio.sleep(0.01)


def expected(step: Step) -> dict[str, Any]:
    hosts = {h: [f"{h}-{t}" for t in tokens if t.startswith("g")]
             for h, tokens in step.hosts.items()}
    return {"hosts": hosts,
            "refused routes": {f"{h}-{t}" for h, ts in step.hosts.items() for t in ts
                               if t.startswith("b")},
            "certificate": PAIRS[step.secret][0] if step.secret in PAIRS else None,
            "moved": {f"{h}-{t}" for h, ts in step.hosts.items() for t in ts if t in step.moved}}


def served(dump: dict[str, Any]) -> dict[str, Any]:
    """What Envoy serves: listeners, virtual hosts (their route names and clusters), secrets."""
    out: dict[str, Any] = {"listeners": set(), "hosts": {}, "clusters": {}, "secrets": {}}
    for config in dump["configs"]:
        kind = config["@type"].rpartition(".")[2]
        if kind == "ListenersConfigDump":
            out["listeners"] = {d["name"] for d in config.get("dynamic_listeners", ())
                                if "active_state" in d}
        elif kind == "RoutesConfigDump":
            for route_config in config.get("dynamic_route_configs", ()):
                for vhost in route_config["route_config"].get("virtual_hosts", ()):
                    out["hosts"][vhost["domains"][0]] = [r["name"] for r in vhost.get("routes", ())]
                    out["clusters"].update((r["name"], r["route"]["cluster"])
                                           for r in vhost.get("routes", ()))
        elif kind == "SecretsConfigDump":
            out["secrets"] = {s["name"]: s["secret"]["tls_certificate"]["certificate_chain"].get(
                "inline_string") for s in config.get("dynamic_active_secrets", ())}
    return out


def _matches(got: dict[str, Any], want: dict[str, Any]) -> bool:
    if got["hosts"] != want["hosts"] or "bad" in got["listeners"] or "http" not in got["listeners"]:
        return False
    if any((got["clusters"].get(name) == "b") != (name in want["moved"])
           for names in want["hosts"].values() for name in names):
        return False
    if want["certificate"] is not None:
        return "https" in got["listeners"] and got["secrets"].get("s") == want["certificate"]
    return True
