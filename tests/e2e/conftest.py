"""Fixtures for the end-to-end tests: a real `propylon up` process, real kubectl, real Envoy.

`Standalone` runs `propylon up --state-dir DIR` as a child process (so a test can SIGKILL it and
start it again on the same state), and gives the test kubectl bound to its kubeconfig with a
private discovery cache. Each one takes its own loopback address pool and echo port, so that
tests run beside `make quickstart` (pool 127.0.10.x, echo 127.0.0.1:9001) and each other: the
quickstart's app manifest is applied with its EndpointSlice moved to the test's echo port
(`app_manifest`). Helpers poll with generous deadlines; nothing asserts a duration.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private_pool() -> str:
    """A loopback /24 of its own (127.200-254.x.1-254): neither the quickstart's default pool
    nor a conformance run's slot."""
    prefix = f"127.{random.randint(200, 254)}.{random.randint(0, 255)}"
    return f"{prefix}.1-{prefix}.254"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.2) -> Any:
    """Poll `check` until it returns a truthy value; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - polled checks may fail while things start
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last result: {last!r}")


class Standalone:
    def __init__(self, state_dir: Path, cache_dir: Path, log_path: Path) -> None:
        self.state_dir = state_dir
        self.cache_dir = cache_dir
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.pool = private_pool()
        self.echo_listen = f"127.0.0.1:{free_port()}"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def app_manifest(self, text: str | None = None) -> str:
        """The quickstart's app manifest (or `text`) with its EndpointSlice at `echo_listen`."""
        text = (QUICKSTART / "app.yaml").read_text() if text is None else text
        assert "  port: 9001\n" in text
        return text.replace("  port: 9001\n", f"  port: {self.echo_listen.rpartition(':')[2]}\n")

    def start(self, *extra: str) -> None:
        env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "propylon"), "up", "--state-dir", str(self.state_dir),
             "--address-pool", self.pool, *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_for("the API server to answer", lambda: self.kubectl("get", "ns", check=False).returncode == 0)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def interrupt(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig),
               "--cache-dir", str(self.cache_dir), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}{result.stdout}\n"
                                 f"--- propylon log ---\n{self.log_tail()}")
        return result

    def get_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def envoy_pids(self) -> list[int]:
        pids = []
        for pid_file in (self.state_dir / "envoy").glob("*/pid.json"):
            pids.append(int(json.loads(pid_file.read_text())["pid"]))
        return pids

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    assert shutil.which("envoy", path=f"{BIN}:{os.environ.get('PATH', '')}"), "envoy binary missing"
    sa = Standalone(tmp_path / "state", tmp_path / "kubecache", tmp_path / "propylon.log")
    yield sa
    if sa.proc and sa.proc.poll() is None:
        sa.proc.send_signal(signal.SIGINT)
        try:
            sa.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sa.proc.kill()
    for pid in sa.envoy_pids():  # never leave an Envoy behind, whatever the test did
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
