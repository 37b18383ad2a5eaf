"""Processes killed or stopped under load: what a client of the Gateway sees.

Each test runs a real `propylon up` with a served Gateway (`gateway` fixture), sends requests on
fresh connections one after the other from a thread (bounded `Load`), and signals one process:

- Envoy SIGKILLed: the host infrastructure manager starts a new one; every failed request was in
  flight at the kill or sent within the first second after it, and the new Envoy serves.
- the control plane (`propylon up`) SIGKILLed and started again on the same state dir: not one
  request fails, the running Envoy is adopted (same pid) and a change made after the restart is
  served.
- the control plane SIGSTOPped for a few seconds while requests flow and a change is written
  (the API server runs in a child process and keeps answering), then SIGCONTed: not one request
  fails and the change is served.

The tests wait for states with deadlines; they assert no duration. They print what they measured.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.conftest import wait_for
from tests.e2e.load import Load

from .conftest import Served

pytestmark = pytest.mark.e2e

FIRST_SECOND = 1.0  # the promise: an Envoy killed under load fails requests only this long
STEADY = 50  # requests answered before a fault, and again after recovery, before judging
STOPPED_FOR = 3.0  # how long the control plane stays stopped: the fault's length, not a wait


def test_envoy_sigkill_fails_requests_only_in_the_first_second(gateway: Served) -> None:
    [envoy] = gateway.sa.envoy_pids()
    with Load(gateway.get) as load:
        wait_for("requests flowing", lambda: load.ok >= STEADY)
        killed = time.monotonic()
        os.kill(envoy, signal.SIGKILL)
        wait_for("a new Envoy started", lambda: gateway.sa.envoy_pids() not in ([], [envoy]))
        wait_for("requests answered again", lambda: load.last_ok > killed)
        recovered = load.ok
        wait_for("steady again", lambda: load.ok >= recovered + STEADY)
    late = [f for f in load.failures
            if not (f.failed >= killed and f.sent <= killed + FIRST_SECOND)]
    print(f"Envoy SIGKILL: {load.sent} requests, {len(load.failures)} failed, the last one sent "
          f"{max((f.sent - killed for f in load.failures), default=0.0):.3f} s after the kill")
    assert late == [], (
        f"{len(late)} failed requests were neither in flight at the kill nor sent within "
        f"{FIRST_SECOND} s after it; the last: {late[-1]}")


def test_control_plane_sigkill_and_restart_fail_no_request(gateway: Served) -> None:
    [envoy] = gateway.sa.envoy_pids()
    with Load(gateway.get) as load:
        wait_for("requests flowing", lambda: load.ok >= STEADY)
        gateway.sa.kill()
        down = load.ok
        wait_for("requests served with the control plane down", lambda: load.ok >= down + STEADY)
        gateway.restart()
        gateway.change("restarted.faults.test")
        gateway.wait_served("restarted.faults.test")
        restarted = load.ok
        wait_for("requests after the restart", lambda: load.ok >= restarted + STEADY)
    print(f"control plane SIGKILL + restart: {load.sent} requests, {len(load.failures)} failed")
    assert load.failures == []
    assert gateway.sa.envoy_pids() == [envoy], "the restarted control plane adopts the running Envoy"


def test_control_plane_sigstop_fails_no_request_and_serves_changes_after(gateway: Served) -> None:
    [envoy] = gateway.sa.envoy_pids()
    control_plane = gateway.control_plane_pid()
    with Load(gateway.get) as load:
        wait_for("requests flowing", lambda: load.ok >= STEADY)
        os.kill(control_plane, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            gateway.change("stopped.faults.test")
            during = load.ok
            wait_for(f"{STOPPED_FOR} s with the control plane stopped, requests flowing",
                     lambda: load.ok >= during + STEADY
                     and time.monotonic() >= stopped + STOPPED_FOR)
        finally:
            os.kill(control_plane, signal.SIGCONT)
        held = time.monotonic() - stopped
        gateway.wait_served("stopped.faults.test")
        resumed = load.ok
        wait_for("requests after SIGCONT", lambda: load.ok >= resumed + STEADY)
    print(f"control plane SIGSTOP for {held:.1f} s: {load.sent} requests, "
          f"{len(load.failures)} failed")
    assert load.failures == []
    assert gateway.sa.envoy_pids() == [envoy]
