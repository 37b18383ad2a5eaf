"""The embedded API server in a child process, so that it has a core and a GIL of its own.

Standalone mode runs the API server next to the controller. In one process they share one GIL:
during a bulk apply or a backlog of status writes, serving requests (TLS, JSON, validation,
SQLite) took as much of the process as the controller's translation and status writing, and
each slowed the other. `APIServerProcess` runs `APIServer` in `python -m
propylon.apiserver.process` instead, with the same state directory, port and kubeconfig:

- `start()` spawns the child and returns once it serves (the child prints one JSON line with its
  URL on stdout); if the child exits first, it raises with the child's exit code (the child's
  traceback went to the shared stderr). `start()` can be split into `spawn()` and `ready()` so
  the caller does other work while the child starts.
- Supervision: once the child serves, a task (`supervision`) waits for it to exit. A child that
  dies is started again on the same port (the kubeconfig stays valid; the server binds with
  SO_REUSEADDR, so the port is free again at once), with an ERROR line giving its exit code or
  signal. Each death within the last `CRASH_WINDOW_S` doubles the delay before the next start
  (from `RESTART_BACKOFF_S`, at most `RESTART_BACKOFF_MAX_S`); the `CRASH_LIMIT`th death
  within the window ends the task with `APIServerGaveUp`, which makes `propylon up` exit
  non-zero. The controller's informers and status writer retry on their own until it is back.
- `stop()` ends supervision, sends SIGTERM and waits for the child to close its listener and database (it is
  killed after `STOP_TIMEOUT_S`).
- The child ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and the
  parent stops its parts in order, the API server last. The child also stops when its stdin
  reaches end of file, which happens when the parent dies without stopping it (SIGKILL), so no
  API server outlives its `propylon up`.
- The child creates its files (database, WAL, kubeconfig, credentials) with umask 0o077: they
  hold every Secret and the API server's keys.
- The child logs to the inherited stderr at the level given by `--log-level` (the parent's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

from propylon.statedir import PRIVATE_UMASK

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
RESTART_BACKOFF_S = 0.1  # the first restart's delay, doubled for every death in the window
RESTART_BACKOFF_MAX_S = 5.0
CRASH_LIMIT = 5  # deaths within CRASH_WINDOW_S after which supervision gives up
CRASH_WINDOW_S = 60.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class APIServerGaveUp(RuntimeError):
    """The API server process kept dying: supervision stopped restarting it."""


class APIServerProcess:
    """The API server of `state_dir` served by a child process; see the module docstring."""

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.kubeconfig_path = self.state_dir / "kubeconfig"
        self.url = ""
        self.pid = 0
        self.supervision: asyncio.Task[None] | None = None  # set by the first `ready()`
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        await self.spawn()
        await self.ready()

    async def spawn(self) -> None:
        """Start the child process; `ready()` waits until it serves."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "propylon.apiserver.process", "--state-dir",
            str(self.state_dir), "--host", self.host, "--port", str(self.port),
            "--log-level", str(level),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self.pid = self._proc.pid

    async def ready(self) -> None:
        """Wait until the child serves, then supervise it; raise if it exited instead."""
        if not await self._served():
            assert self._proc is not None
            code = await self._proc.wait()
            raise RuntimeError(f"the API server process exited with code {code} before serving "
                               "(its error is in the log above)")
        self.port = urlsplit(self.url).port or self.port  # restarts keep the kubeconfig's URL
        if self.supervision is None:
            self.supervision = asyncio.create_task(self._supervise(), name="apiserver-supervision")

    async def _served(self) -> bool:
        """Read the child's URL line; False if it exited before printing it."""
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            return False
        self.url = str(json.loads(line)["url"])
        return True

    async def _supervise(self) -> None:
        """Restart the child whenever it dies, on the same port; give up (raise
        `APIServerGaveUp`) after `CRASH_LIMIT` deaths within `CRASH_WINDOW_S`."""
        crashes: deque[float] = deque()
        while True:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
            now = time.monotonic()
            crashes.append(now)
            while crashes[0] < now - CRASH_WINDOW_S:
                crashes.popleft()
            if len(crashes) >= CRASH_LIMIT:
                raise APIServerGaveUp(
                    f"the API server cannot be kept running: its process died {len(crashes)} "
                    f"times within {CRASH_WINDOW_S:.0f}s (last: {_exit_reason(code)}); its "
                    "error is in the log above (the API server process logs to the same "
                    "stderr as propylon up)")
            delay = min(RESTART_BACKOFF_MAX_S, RESTART_BACKOFF_S * 2 ** (len(crashes) - 1))
            log.error("the API server process (pid %d) died: %s; restarting it on port %d in "
                      "%.1fs", proc.pid, _exit_reason(code), self.port, delay)
            await asyncio.sleep(delay)
            await self.spawn()
            if await self._served():
                log.info("the API server serves again at %s (pid %d)", self.url, self.pid)

    async def stop(self) -> None:
        if self.supervision is not None:
            self.supervision.cancel()
            await asyncio.gather(self.supervision, return_exceptions=True)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("the API server process did not stop in %.0fs; killing it",
                            STOP_TIMEOUT_S)
                proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


async def _serve(state_dir: Path, host: str, port: int) -> None:
    from propylon.apiserver.server import APIServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = APIServer(state_dir, host=host, port=port)
    await server.start()
    try:
        parent = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(parent), sys.stdin)
        print(json.dumps({"url": server.url}), flush=True)
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(parent.read())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
    finally:
        await server.stop()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, in order
    os.umask(PRIVATE_UMASK)  # the database, its WAL and the kubeconfig hold secrets
    parser = argparse.ArgumentParser(prog="python -m propylon.apiserver.process",
                                     description="The API server child of `propylon up`.")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    asyncio.run(_serve(args.state_dir, args.host, args.port))


if __name__ == "__main__":
    main()
