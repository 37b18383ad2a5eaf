"""`APIServer`: the embedded Kubernetes-compatible API server, started and stopped as one object.

`start()` opens `<state_dir>/state.db`, loads or creates the TLS credentials and token, seeds
the `default` and `kube-system` namespaces, binds https on `host:port` (plain HTTP there gets a
400 saying to use https, see `listener`) and writes `<state_dir>/kubeconfig`. It serves the
core kinds, CustomResourceDefinitions (see `crds`) and,
unless `builtin_gateway_api=False` (a cluster-like server on which the Gateway API CRDs must be
applied), the Gateway API kinds. Objects get their kinds' defaults, status defaults included
(`defaulting`). With `port=0` it reuses the port saved in the state directory when that
port is free, so a restarted server keeps its URL and the kubeconfig stays valid; otherwise it
takes a free port and saves it. `stop()` ends every watch, closes the listener and the database.
`audit` (optional) is called with every resource request served (see `audit`).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from propylon.api.validation import with_defaults
from propylon.apiserver import audit as audit_mod
from propylon.apiserver.admission import default_validator
from propylon.apiserver.crds import Catalog, builtin_kinds
from propylon.apiserver.events import EventHub
from propylon.apiserver.handlers import MAX_REQUEST_BODY_BYTES, Routes
from propylon.apiserver.listener import Listener
from propylon.apiserver.registry import Registry
from propylon.apiserver.storage import Storage
from propylon.apiserver.tls import ensure_credentials, write_kubeconfig

SEEDED_NAMESPACES = ("default", "kube-system")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class APIServer:
    """An API server over https on loopback, its state in `state_dir`."""

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int = 0,
                 validator: Callable[[dict[str, Any]], list[Any]] | None = None, *,
                 event_history: int = 10_000, bookmark_interval: float = 60.0,
                 builtin_gateway_api: bool = True,
                 audit: Callable[[audit_mod.Request], None] | None = None) -> None:
        self.audit = audit
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.validator = validator
        self.event_history = event_history
        self.bookmark_interval = bookmark_interval
        self.builtin_gateway_api = builtin_gateway_api
        self.kubeconfig_path = self.state_dir / "kubeconfig"
        self.url = ""
        self._storage: Storage | None = None
        self._hub: EventHub | None = None
        self._runner: web.AppRunner | None = None
        self._listener: Listener | None = None

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        storage = Storage(self.state_dir / "state.db")
        self._storage = storage
        credentials = ensure_credentials(self.state_dir)
        self._hub = EventHub(self.event_history, storage.resource_version)
        validator = self.validator if self.validator is not None else default_validator()
        registry = Registry(storage, self._hub, validator,
                            Catalog(builtin_kinds(self.builtin_gateway_api)), with_defaults)
        for name in SEEDED_NAMESPACES:
            await registry.seed_namespace(name)
        app = web.Application(client_max_size=MAX_REQUEST_BODY_BYTES)
        Routes(registry, self._hub, credentials.token, self.bookmark_interval,
               self.audit).install(app)
        sock = self._socket(storage)
        port = sock.getsockname()[1]
        storage.set_meta("port", str(port))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        assert self._runner.server is not None
        self._listener = Listener(sock, credentials.ssl_context(), self._runner.server)
        self._listener.start()
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"https://{host}:{port}"
        write_kubeconfig(self.kubeconfig_path, self.url, credentials)

    def _socket(self, storage: Storage) -> socket.socket:
        if self.port:
            return _bind(self.host, self.port)
        saved = storage.get_meta("port")
        if saved:
            try:
                return _bind(self.host, int(saved))
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise
        return _bind(self.host, 0)

    async def stop(self) -> None:
        if self._hub is not None:
            self._hub.close()
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._storage is not None:
            self._storage.close()
            self._storage = None
