"""The standalone stack: everything `propylon up` runs, as one async context manager.

`Standalone(state_dir, ...)` first owns the state directory (`statedir.owned`: one stack per
directory, `StateDirInUse` if another runs there; files private to the user), then starts, in
order, the embedded API server (which writes
`<state-dir>/kubeconfig`) in a child process of its own (`apiserver.process`: requests are served
on another core, not under the controller's GIL), the xDS server while that child starts (on the
Unix socket `xds.sock` of the state dir's private socket directory, `infra.host.private_sockets`:
only the owner can reach it, and Envoys started by an earlier run reconnect to the same path
after a crash or an upgrade), the htpasswd check service beside it (`htpasswd.sock`,
`propylon.basicauth`: basic auth users hashed with more than `{SHA}`), the host infrastructure manager (one Envoy process per Gateway, addresses
from a loopback pool), optional echo backends (`[[NAMESPACE/]SERVICE=]HOST:PORT`: replies name
that Service; no line per request unless `echo_log`), and the controller, which reads the API server
through the same client it uses against a real cluster. The controller drives the host manager through `MirroredInfra` (`stack.infra`), which
shows each Gateway's Envoy in the API as a Pod and a LoadBalancer Service. Leaving the context
stops them in the reverse order, Envoys included, the API server last.

`propylon up` and the conformance runner both use it, so they run the same code path. The
controller's modules are imported in `__aenter__`, after the API server process is spawned, so
that both start at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from propylon import statedir
from propylon.apiserver.process import APIServerProcess
from propylon.infra.host.private_sockets import PrivateSockets, private_sockets
from propylon.translate.types import DEFAULT_CONTROLLER_NAME, IngressSettings

if TYPE_CHECKING:
    from propylon.basicauth.server import BasicAuthServer
    from propylon.client import KubeClient
    from propylon.controller.reconciler import Controller
    from propylon.infra.host.manager import HostInfra
    from propylon.infra.host.mirror import MirroredInfra
    from propylon.xds.server import SnapshotCache, XdsServer

log = logging.getLogger(__name__)

DEFAULT_POOL = "127.0.10.1-127.0.10.254"
OLD_XDS_PORT_FILE = "xds.json"  # where older versions, serving xDS on TCP, kept its port


@dataclass
class StandaloneOptions:
    api_port: int = 0
    address_pool: str = DEFAULT_POOL
    privileged_port_offset: int = 10000
    controller_name: str = DEFAULT_CONTROLLER_NAME
    echo: list[str] = field(default_factory=list)  # [[NS/]SERVICE=]HOST:PORT of echoes to run
    echo_log: bool = False  # whether the echoes print a line per request
    ingress: IngressSettings = IngressSettings()  # which Ingress objects are served, how


class Standalone:
    """Run with `async with Standalone(state_dir, options) as stack:`; `stack.client` is a
    `KubeClient` bound to the embedded API server, `stack.controller` the running controller."""

    def __init__(self, state_dir: Path, options: StandaloneOptions | None = None) -> None:
        self.state_dir = state_dir
        self.options = options or StandaloneOptions()
        self._stack = AsyncExitStack()
        self.api: APIServerProcess
        self.xds: XdsServer
        self.basic_auth: BasicAuthServer
        self.cache: SnapshotCache
        self.host: HostInfra
        self.infra: MirroredInfra
        self.client: KubeClient
        self.controller: Controller
        self.controller_task: asyncio.Task[None]

    @property
    def kubeconfig_path(self) -> Path:
        return self.api.kubeconfig_path

    async def __aenter__(self) -> Standalone:
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
        from propylon.basicauth.server import BasicAuthServer
        from propylon.client import load_client
        from propylon.controller.reconciler import Controller
        from propylon.echo.command import parse_backend
        from propylon.echo.httpserver import serve_echo
        from propylon.infra.host.manager import HostInfra
        from propylon.infra.host.mirror import MirroredInfra
        from propylon.xds.server import SnapshotCache, XdsServer

        self.cache = SnapshotCache()
        self.xds = XdsServer(self.cache)
        sockets = private_sockets(self.state_dir)
        self._stack.callback(self._remove_sockets, sockets)  # after xDS and the Envoys stopped
        await self.xds.start_unix(sockets.xds)
        self._stack.push_async_callback(self.xds.stop)
        self.basic_auth = BasicAuthServer()
        await self.basic_auth.start_unix(sockets.htpasswd)
        self._stack.push_async_callback(self.basic_auth.stop)
        _forget_xds_port(self.state_dir, sockets.xds)

        await self.api.ready()
        self.client = load_client(self.api.kubeconfig_path)
        self.host = HostInfra(self.state_dir, pool=opts.address_pool,
                              privileged_port_offset=opts.privileged_port_offset)
        self.infra = MirroredInfra(self.host, self.client)
        self._stack.push_async_callback(self.infra.close)

        for backend in opts.echo:
            host, port, context = parse_backend(backend)
            runner = await serve_echo(host, port, context, log_requests=opts.echo_log)
            self._stack.push_async_callback(runner.cleanup)

        self.controller = Controller(self.client, self.cache, self.infra,
                                     controller_name=opts.controller_name, ingress=opts.ingress)
        self.controller_task = asyncio.create_task(self.controller.run(), name="controller")
        self._stack.push_async_callback(_cancel, self.controller_task)

    def _remove_sockets(self, sockets: PrivateSockets) -> None:
        """Remove a socket directory outside the state dir unless an Envoy may still use it (one
        left by an earlier run that this one did not get to adopt and stop)."""
        from propylon.infra.host.manager import PROXIES_DIR

        proxies = self.state_dir / PROXIES_DIR
        if not proxies.is_dir() or not any(proxies.iterdir()):
            sockets.remove_linked()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _forget_xds_port(state_dir: Path, xds_socket: Path) -> None:
    """Drop the TCP xDS port an older version recorded; its Envoys are replaced on adoption."""
    path = state_dir / OLD_XDS_PORT_FILE
    if path.exists():
        path.unlink()
        log.warning("xDS no longer listens on a loopback TCP port (the one in %s, which every "
                    "local user could reach); Envoys still using it are restarted on the Unix "
                    "socket %s", path, xds_socket)
