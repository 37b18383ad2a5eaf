"""Envoy Gateway's load-balancing and session cases: the runner's `distribution` and `sticky`
checks on made-up answers, and a real run of those cases through standalone Propylon, real
Envoy and echo processes (each echo pod its own endpoint)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from propylon.conformance import distribution
from propylon.conformance.matching import Response
from tests.shared_data import shared

CASES = ("RoundRobinLoadBalancing", "HeaderBasedConsistentHashLoadBalancing",
         "MultiHeaderBasedConsistentHashLoadBalancing",
         "QueryParamsBasedConsistentHashLoadBalancing", "CookieBasedConsistentHashLoadBalancing",
         "SourceIPBasedConsistentHashLoadBalancing", "EndpointOverrideLoadBalancing",
         "BackendUtilizationLoadBalancing", "BackendUtilizationOutOfBandLoadBalancing",
         "SessionPersistence")


def _echo(pod: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(200, [("Content-Type", "application/json"), *(headers or [])],
                    json.dumps({"pod": pod, "namespace": "ns"}).encode())


def test_distribution_conditions() -> None:
    one = "exactly one distinct pod"
    assert distribution.problem(one, {"a": 50}) is None
    assert "2 pods answered" in str(distribution.problem(one, {"a": 49, "b": 1}))
    even = ("every pod that answered received 50 +/- 5 of the counted responses "
            "(|count - 200/4| <= 5); pods that answered nothing are not checked")
    assert distribution.problem(even, {"a": 45, "b": 55, "c": 50, "d": 50}) is None
    assert "'b': 56" in str(distribution.problem(even, {"a": 44, "b": 56, "c": 50, "d": 50}))
    assert distribution.problem("at least 2 distinct pods answered", {"a": 1, "b": 1}) is None
    assert distribution.problem(one, {}) == "no counted response"
    share = ('floor(100 * low / total) >= 80, where low = counted responses from pods whose '
             'name contains "low-util" and total = all counted responses (total 0 fails)')
    assert distribution.problem(share, {"x-low-util-1": 80, "x-high-util-1": 20}) is None
    assert "79%" in str(distribution.problem(share, {"x-low-util-1": 79, "x-high-util-1": 21}))
    every = "every Running web-backend pod answered at least once"
    assert distribution.problem(every, {"w-1": 30, "w-2": 20}, ["w-1", "w-2"]) is None
    assert "['w-2']" in str(distribution.problem(every, {"w-1": 50}, ["w-1", "w-2"]))
    exact = "every response comes from exactly that pod (echoed pod name == the pod whose IP)"
    assert distribution.problem(exact, {"w-2": 10}, sent_to="w-2") is None
    assert distribution.problem(exact, {"w-1": 1, "w-2": 9}, sent_to="w-2") is not None
    with pytest.raises(distribution.Unknown):
        distribution.problem("pods in zone 1", {"a": 1})


def test_a_pod_ip_placeholder_names_the_deployment_and_is_replaced() -> None:
    step = {"request": {"headers": {"x-custom-host": "<IP of the first Running web pod>:3000"}},
            "condition": "every response comes from exactly that pod"}
    assert distribution.deployment_named(step) == "web"
    assert distribution.with_pod_ip(step["request"]["headers"], "127.1.0.9") == {
        "x-custom-host": "127.1.0.9:3000"}


async def test_a_strict_batch_fails_on_a_transport_error_and_a_lenient_one_skips_it() -> None:
    answers = iter([(_echo("a"), "", ""), (Response(0), "refused", ""), (_echo("a"), "", "")])

    async def send(extra: Mapping[str, str]) -> tuple[Response, str, str]:
        return next(answers)

    step = {"count": 3, "condition": "exactly one distinct pod",
            "counted": "every response (a transport error or a mismatch fails the test at once)"}
    assert await distribution.distribution(send, step) == "refused"
    answers = iter([(_echo("a"), "", ""), (Response(0), "refused", ""), (_echo("a"), "", "")])
    assert await distribution.distribution(send, {**step, "counted": "matching ones"}) is None


COOKIE_STEP = {"count": 3, "procedure": (
    "request 1: echoed pod name non-empty, and a Set-Cookie for Session-A whose parsed "
    "attributes are exactly: value in double quotes, Max-Age=10, Path=/p, HttpOnly; no "
    "Expires. Requests 2-10 send Cookie: Session-A=<value without quotes>")}


async def test_a_cookie_session_must_come_back_to_its_pod() -> None:
    sent: list[Mapping[str, str]] = []

    async def send(extra: Mapping[str, str]) -> tuple[Response, str, str]:
        sent.append(extra)
        if not extra:
            return _echo("a", [("Set-Cookie", 'Session-A="MTI3"; Max-Age=10; Path=/p; HttpOnly')]), "", ""
        return _echo("a" if extra.get("Cookie") == "Session-A=MTI3" else "b"), "", ""

    assert await distribution.sticky_session(send, COOKIE_STEP, _no_wait) is None
    assert sent[1:] == [{"Cookie": "Session-A=MTI3"}] * 2


async def test_a_cookie_with_other_attributes_fails() -> None:
    async def send(extra: Mapping[str, str]) -> tuple[Response, str, str]:
        return _echo("a", [("Set-Cookie", 'Session-A="MTI3"; Path=/p; HttpOnly')]), "", ""

    reason = await distribution.sticky_session(send, COOKIE_STEP, _no_wait)
    assert "attributes ['Path=/p', 'HttpOnly']" in str(reason)


async def test_session_runs_must_reach_another_backend() -> None:
    step = {"count": 2, "procedure": (
        "a run = 2 requests, each must match expect (else fail at once): request 1 must carry "
        "an echoed pod name and a Set-Cookie for Session-A (attributes not compared); ... for "
        "up to 3 s until a run's backend differs from the first run's")}

    async def send(extra: Mapping[str, str]) -> tuple[Response, str, str]:
        return _echo("v1-abc-1", [("Set-Cookie", "Session-A=x")]), "", ""

    assert await distribution.sticky_session(send, step, _no_wait) == \
        "every run within 3 s was answered by v1"


async def _no_wait(seconds: float) -> None:
    return None


def test_load_balancing_and_session_cases_pass(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance",
         "--cases", str(shared("envoy-gateway", "cases")), "--run", ",".join(CASES),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"{len(CASES)} passed, 0 failed"
