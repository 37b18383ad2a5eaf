"""Keeping one Gateway's Envoy running and knowing whether it is ready.

`ProxySupervisor.start()` first tries to adopt the Envoy a previous control plane left in the
proxy's directory, else launches a new one, then runs a watch loop as an asyncio task:
- while the process is alive, poll its admin endpoint on its Unix socket (every 0.2 s until
  ready, then every 1 s) and record `ready` and a `message` saying what it is waiting for;
- when it has died, report not ready with how it ended and the last line of its log, wait a
  backoff (none after a first death, so that a proxy killed under load serves again within a
  second; then 0.5 s doubling to 30 s; reset once a process has stayed up for 30 s), and launch
  a new one. A launch that fails (binary gone, directory unwritable) is retried the same way.
  Between two admin polls the process is checked every 50 ms (signal 0 or `waitpid`, no
  request), so that a death is seen at once.
Every change of (ready, message) calls `on_change`. Deaths are counted (`restarts`) and the last
one's time and exit code kept (`last_exit`), which the Envoy's Pod shows as its container's.

`stop(terminate=True)` ends the loop and stops Envoy (SIGTERM, then SIGKILL); with
`terminate=False` Envoy keeps running for the next control plane to adopt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from propylon.infra.host.envoy_admin import admin_session, admin_status
from propylon.infra.host.envoy_process import EnvoyProcess, adopt, launch
from propylon.infra.host.host_objects import Exit
from propylon.ir.model import GatewayKey

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0
LIVENESS_CHECK = 0.05


class ProxySupervisor:
    """The Envoy of one Gateway: adopted or launched, watched, restarted, stopped."""

    def __init__(self, key: GatewayKey, directory: Path, envoy_path: str,
                 bootstrap: dict[str, Any], admin: Path, concurrency: int, xds_address: str,
                 on_change: Callable[[], None]) -> None:
        self.key = key
        self.directory = directory
        self._envoy_path = envoy_path
        self._bootstrap = bootstrap
        self._admin = admin
        self._concurrency = concurrency
        self._xds_address = xds_address
        self._session: aiohttp.ClientSession | None = None
        self._on_change = on_change
        self.process: EnvoyProcess | None = None
        self.ready = False
        self.message = "starting Envoy"
        self._failures = 0
        self.restarts = 0  # deaths, each followed by a new launch
        self.last_exit: Exit | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Adopt or launch Envoy and start watching it; True if a running Envoy was adopted."""
        self._session = admin_session(self._admin)
        self.process = await adopt(self.directory, self._bootstrap, self._admin,
                                   self._concurrency)
        adopted = self.process is not None
        if self.process is None:
            self._launch()
        self._task = asyncio.create_task(self._watch(), name=f"envoy {self.key}")
        return adopted

    def _launch(self) -> None:
        try:
            self.process = launch(self._envoy_path, self.directory, self._bootstrap,
                                  self._admin, self._concurrency)
        except OSError as error:
            self.process = None
            self._failures += 1
            self._set(False, f"cannot start Envoy {self._envoy_path} for Gateway {self.key}: "
                             f"{error}; check the binary and that {self.directory} is writable")
            return
        self._set(False, f"Envoy (pid {self.process.pid}) is starting")

    def _set(self, ready: bool, message: str) -> None:
        if (ready, message) != (self.ready, self.message):
            self.ready, self.message = ready, message
            self._on_change()

    def _backoff(self) -> float:
        if self._failures <= 1:
            return 0.0
        return min(FIRST_BACKOFF * 2.0 ** (self._failures - 2), MAX_BACKOFF)

    async def _watch(self) -> None:
        while True:
            try:
                await self._watch_once()
            except Exception:  # a bug here must not leave the Gateway without a supervisor
                log.exception("supervising Envoy for Gateway %s failed; retrying", self.key)
                await asyncio.sleep(1.0)

    async def _watch_once(self) -> None:
        process = self.process
        if process is None or not process.alive():
            if process is not None:
                self._on_exit(process)
            await asyncio.sleep(self._backoff())
            self._launch()
            return
        assert self._session is not None, "start() opens the admin session before watching"
        status = await admin_status(self._session)
        if process is not self.process or not process.alive():
            return
        if status.ready:
            self._set(True, "")
        elif status.state is None:
            self._set(False, f"Envoy (pid {process.pid}) is starting: {status.error}")
        elif status.state == "LIVE":
            self._set(False, f"Envoy (pid {process.pid}) is not connected to the control "
                             f"plane at {self._xds_address}; it keeps its last configuration "
                             "but receives no changes")
        else:
            self._set(False, f"Envoy (pid {process.pid}) is {status.state}: waiting for its "
                             f"configuration from the control plane at {self._xds_address}")
        if time.monotonic() - process.started_at >= STABLE_AFTER:
            self._failures = 0
        await self._sleep_while_alive(process, 1.0 if self.ready else 0.2)

    @staticmethod
    async def _sleep_while_alive(process: EnvoyProcess, seconds: float) -> None:
        """Wait `seconds`, or less if the process dies meanwhile."""
        deadline = time.monotonic() + seconds
        while process.alive() and time.monotonic() < deadline:
            await asyncio.sleep(LIVENESS_CHECK)

    def _on_exit(self, process: EnvoyProcess) -> None:
        self._failures += 1
        self.restarts += 1
        code = process.exit_code()
        if code is not None:
            finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.last_exit = Exit(finished, code)
        last_line = "" if process.killed() else process.last_log_line()
        detail = f"; its log ends with: {last_line}" if last_line else ""
        log.warning("Envoy pid %s for Gateway %s %s", process.pid, self.key,
                    process.exit_description())
        self.process = None
        backoff = self._backoff()
        when = f"in {backoff:g} s" if backoff else "now"
        self._set(False, f"Envoy (pid {process.pid}) {process.exit_description()}; restarting "
                         f"{when} (log: {process.log_path}){detail}")

    async def stop(self, terminate: bool = True) -> None:
        """Stop watching; with `terminate`, also stop Envoy and wait until it is gone."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if terminate and self.process is not None:
            await self.process.terminate()
