"""SIGTERM on a `propylon conformance` run, for the tests of both runners: start the run, wait
until it has started what the test names, send SIGTERM, and check that the run says it was
stopped, exits with 128 + SIGTERM and leaves none of the processes it had started running
(what is left is killed all the same, not to hold the run's loopback slot for later tests).
Processes are found under /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from propylon.infra.host.envoy_process import pid_alive
from tests.e2e.conftest import wait_for


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def runs_envoy(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"envoy")
    except OSError:
        return False


def check_sigterm_stops_the_run(args: list[str], what: str,
                                started: Callable[[int], bool]) -> None:
    """Run `propylon conformance *args`, wait until `started(pid of the run)` (`what` it
    waits for), stop it with SIGTERM and check it stopped everything it had started."""
    runner = subprocess.Popen([sys.executable, "-m", "propylon.cli.main", "conformance", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(what, lambda: started(runner.pid), timeout=120)
        processes = descendants(runner.pid)
        runner.terminate()
        _, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    try:
        assert runner.returncode == 128 + signal.SIGTERM, err
        assert "stopped by SIGTERM" in err
        wait_for("every process the run started to stop", lambda: not any(
            pid_alive(pid) for pid in processes), timeout=30)
    finally:
        for pid in filter(pid_alive, processes):
            os.kill(pid, signal.SIGKILL)
