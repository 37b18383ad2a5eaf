"""The standalone stack: everything `propylon up` runs, as one async context manager.

`Standalone(state_dir, ...)` first owns the state directory (`statedir.owned`: one stack per
directory, `StateDirInUse` if another runs there; files private to the user), then starts, in
order, the embedded API server (which writes
`<state-dir>/kubeconfig`) in a child process of its own (`apiserver.process`: requests are served
on another core, not under the controller's GIL), the xDS server while that child starts (on a
port kept in `<state-dir>/xds.json` so that Envoys started by an earlier run reconnect after a
crash or an upgrade), the host infrastructure manager (one Envoy process per Gateway, addresses
from a loopback pool), optional echo backends, and the controller, which reads the API server
through the same lightkube client it uses against a real cluster. The controller drives the host manager through `MirroredInfra` (`stack.infra`), which
shows each Gateway's Envoy in the API as a Pod and a LoadBalancer Service. Leaving the context
stops them in the reverse order, Envoys included, the API server last.

`propylon up` and the conformance runner both use it, so they run the same code path. The
controller's modules are imported in `__aenter__`, after the API server process is spawned, so
that both start at the same time.
"""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from propylon import statedir
from propylon.apiserver.process import APIServerProcess
from propylon.translate.types import DEFAULT_CONTROLLER_NAME

if TYPE_CHECKING:
    import lightkube

    from propylon.controller.reconciler import Controller
    from propylon.infra.host import HostInfra
    from propylon.infra.mirror import MirroredInfra
    from propylon.xds.server import SnapshotCache, XdsServer

DEFAULT_POOL = "127.0.10.1-127.0.10.254"


@dataclass
class StandaloneOptions:
    api_port: int = 0
    address_pool: str = DEFAULT_POOL
    privileged_port_offset: int = 10000
    controller_name: str = DEFAULT_CONTROLLER_NAME
    echo: list[str] = field(default_factory=list)  # HOST:PORT of echo backends to run


class Standalone:
    """Run with `async with Standalone(state_dir, options) as stack:`; `stack.client` is a
    lightkube client bound to the embedded API server, `stack.controller` the running controller."""

    def __init__(self, state_dir: Path, options: StandaloneOptions | None = None) -> None:
        self.state_dir = state_dir
        self.options = options or StandaloneOptions()
        self._stack = AsyncExitStack()
        self.api: APIServerProcess
        self.xds: XdsServer
        self.cache: SnapshotCache
        self.host: HostInfra
        self.infra: MirroredInfra
        self.client: lightkube.AsyncClient
        self.controller: Controller
        self.controller_task: asyncio.Task[None]

    @property
    def kubeconfig_path(self) -> Path:
        return self.api.kubeconfig_path

    async def __aenter__(self) -> "Standalone":
        # first of all: the lock (StateDirInUse, nothing touched), private modes and umask
        self._stack.enter_context(statedir.owned(self.state_dir))
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        opts = self.options
        self.api = APIServerProcess(self.state_dir, port=opts.api_port)
        await self.api.spawn()
        self._stack.push_async_callback(self.api.stop)
        # the controller's modules (about a second) load while the API server process starts
        from propylon.client import load_client
        from propylon.controller.reconciler import Controller
        from propylon.echo import serve_echo
        from propylon.infra.host import HostInfra
        from propylon.infra.mirror import MirroredInfra
        from propylon.xds.server import SnapshotCache, XdsServer

        self.cache = SnapshotCache()
        self.xds = XdsServer(self.cache)
        xds_port = await self.xds.start("127.0.0.1", _xds_port(self.state_dir))
        self._stack.push_async_callback(self.xds.stop)

        await self.api.ready()
        self.client = load_client(self.api.kubeconfig_path)
        self.host = HostInfra(self.state_dir, "127.0.0.1", xds_port, pool=opts.address_pool,
                              privileged_port_offset=opts.privileged_port_offset)
        self.infra = MirroredInfra(self.host, self.client)
        self._stack.push_async_callback(self.infra.close)

        for listen in opts.echo:
            host, _, port = listen.rpartition(":")
            runner = await serve_echo(host or "127.0.0.1", int(port))
            self._stack.push_async_callback(runner.cleanup)

        self.controller = Controller(self.client, self.cache, self.infra,
                                     controller_name=opts.controller_name)
        self.controller_task = asyncio.create_task(self.controller.run(), name="controller")
        self._stack.push_async_callback(_cancel, self.controller_task)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _xds_port(state_dir: Path) -> int:
    """The xDS port of the last run if it is free again, else a new free one; persisted."""
    path = state_dir / "xds.json"
    if path.exists():
        port = int(json.loads(path.read_text())["port"])
        if _port_free(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    path.write_text(json.dumps({"port": port}))
    return port


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
