"""`HostInfra`: the standalone infrastructure manager, one Envoy process per Gateway here.

For every wanted Gateway (`apply`):
1. **Address** from the loopback pool (`addresses.AddressPool`, persisted in
   `state_dir/addresses.json`, honouring `spec.addresses` when usable).
2. **Ports**: every distinct listener port is probed by binding address:port, for UDP too when
   a UDP listener uses it (`ports.resolve_port`), mapping privileged ports to port + offset when this user may not bind
   them. A port that resolved is kept as long as the Gateway keeps that port and address, and is
   never probed again: once handed over, Envoy itself holds it. Ports that failed are re-probed
   every 2 s, so freeing a port makes the Gateway recover. The resolved ports are saved in the
   proxy directory (`ports.json`) so that a restarted control plane that adopts the running Envoy
   trusts them instead of probing sockets Envoy already holds.
3. **Envoy** in `state_dir/envoy/<namespace>_<name>/` (`proxy_supervisor.ProxySupervisor`):
   adopted if a previous control plane left it running with the same bootstrap, else launched;
   restarted with backoff when it dies; ready when its admin says LIVE and its ADS stream is
   connected (see `envoy_admin`). It reaches the xDS server on the Unix socket `xds.sock` and
   serves its admin interface on a Unix socket of its own, both in the state dir's private
   socket directory (`private_sockets`), which the xDS server must serve.

Gateways that are no longer wanted lose their Envoy, address and directory; so do directories
left by a previous control plane for Gateways absent from the first `apply`.

`states()` is rebuilt from these parts; whenever it differs from what subscribers last saw,
every subscriber is called (from the event loop). `process()` tells which Envoy process serves a
Gateway (`mirror.MirroredInfra` shows it in the API as a Pod).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from propylon.infra.host.addresses import AddressPool, Assignment
from propylon.infra.host.envoy_process import find_envoy, stop_leftover
from propylon.infra.host.host_objects import Process
from propylon.infra.host.ports import BindProbe, probe_bind, resolve_port
from propylon.infra.host.private_sockets import private_sockets
from propylon.infra.host.proxy_supervisor import ProxySupervisor
from propylon.infra.subscribers import Subscribers
from propylon.ir.model import GatewayKey, InfraIR, InfraState, PortState
from propylon.xds.bootstrap import unix_bootstrap

log = logging.getLogger(__name__)

PROXIES_DIR = "envoy"  # in the state dir: one directory per Gateway's Envoy
PORTS_FILE = "ports.json"
REPROBE_INTERVAL = 2.0


@dataclass
class _Gateway:
    """Everything HostInfra holds for one Gateway."""

    ir: InfraIR
    supervisor: ProxySupervisor
    assignment: Assignment = Assignment(None)
    ports: dict[int, PortState] = field(default_factory=dict)


def proxy_dir_name(key: GatewayKey) -> str:
    """`namespace_name`: unambiguous, since neither part may contain `_`."""
    return f"{key.namespace}_{key.name}"


class HostInfra:
    """Runs one Envoy per Gateway on this machine; implements `propylon.infra.InfraManager`."""

    def __init__(self, state_dir: Path, pool: str = "127.0.10.1-127.0.10.254",
                 privileged_port_offset: int = 10000, envoy_path: str | None = None,
                 concurrency: int = 1, *, bind_probe: BindProbe = probe_bind) -> None:
        self._state_dir = Path(state_dir).absolute()
        self._proxies_dir = self._state_dir / PROXIES_DIR
        self._sockets = private_sockets(self._state_dir)
        self._offset = privileged_port_offset
        self._envoy_path = find_envoy(envoy_path)
        self._concurrency = concurrency
        self._probe = bind_probe
        self._pool = AddressPool(pool, self._state_dir / "addresses.json")
        self._gateways: dict[GatewayKey, _Gateway] = {}
        self._subscribers = Subscribers()
        self._reprobe_task: asyncio.Task[None] | None = None
        self._first_apply = True
        self._applying = False

    # -- InfraManager -------------------------------------------------------------------------

    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        """Converge to exactly `wanted`: stop what is gone, start what is new, re-resolve
        addresses and ports of the rest. Returns before new Envoys are ready."""
        if self._reprobe_task is None:
            self._reprobe_task = asyncio.create_task(self._reprobe_loop(), name="port re-probe")
        self._applying = True
        try:
            gone = [key for key in self._gateways if key not in wanted]
            await asyncio.gather(*(self._remove(key) for key in gone))
            if self._first_apply:
                self._first_apply = False
                await self._remove_leftovers({proxy_dir_name(key) for key in wanted})
            for key in sorted(wanted):
                await self._converge(key, wanted[key])
        finally:
            self._applying = False
        self._publish()

    def states(self) -> Mapping[GatewayKey, InfraState]:
        return {key: self._state(key, gateway) for key, gateway in sorted(self._gateways.items())}

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.add(callback)

    def process(self, key: GatewayKey) -> Process:
        """The Envoy process of a managed Gateway (pid None while none runs)."""
        supervisor = self._gateways[key].supervisor
        running = supervisor.process
        return Process(None if running is None else running.pid, self._envoy_path,
                       supervisor.restarts, supervisor.last_exit)

    async def close(self, stop_proxies: bool = True) -> None:
        """Stop managing; with `stop_proxies` also stop every Envoy (and wait for them)."""
        if self._reprobe_task is not None:
            self._reprobe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reprobe_task
            self._reprobe_task = None
        await asyncio.gather(*(g.supervisor.stop(terminate=stop_proxies)
                               for g in self._gateways.values()))
        if stop_proxies:
            for key in self._gateways:
                shutil.rmtree(self._proxies_dir / proxy_dir_name(key), ignore_errors=True)
        self._gateways.clear()

    # -- convergence --------------------------------------------------------------------------

    async def _converge(self, key: GatewayKey, ir: InfraIR) -> None:
        gateway = self._gateways.get(key)
        trusted_address: str | None = None
        trusted: dict[int, int] = {}
        if gateway is None:
            directory = self._proxies_dir / proxy_dir_name(key)
            admin = self._sockets.admin(directory.name)
            supervisor = ProxySupervisor(
                key, directory, self._envoy_path,
                unix_bootstrap(str(key), self._sockets.xds, admin), admin,
                ir.parameters.concurrency or self._concurrency,  # GatewayParameters, at start
                str(self._sockets.xds), self._publish,
            )
            gateway = self._gateways[key] = _Gateway(ir, supervisor)
            adopted = await supervisor.start()
            if adopted:
                trusted_address, trusted = self._load_ports(directory)
        gateway.ir = ir
        assignment = self._pool.assign(key, ir.requested_addresses)
        if assignment.address != gateway.assignment.address:
            gateway.ports = {}
        gateway.assignment = assignment
        wanted_ports = sorted({listener.port for listener in ir.listeners})
        ports: dict[int, PortState] = {}
        for port in wanted_ports:
            kept = gateway.ports.get(port)
            if kept is not None and kept.error is None:
                ports[port] = kept
            elif assignment.address is None:
                ports[port] = PortState(port, None, "not bound: the Gateway has no address")
            elif port in trusted and trusted_address == assignment.address:
                ports[port] = PortState(port, trusted[port])
            else:
                ports[port] = resolve_port(assignment.address, port, self._offset, self._probe,
                                           ir.transports(port))
        if ports != gateway.ports:
            gateway.ports = ports
            self._save_ports(key, gateway)

    async def _remove(self, key: GatewayKey) -> None:
        gateway = self._gateways[key]
        # still listed while it stops: when the control plane stops meanwhile (this task
        # cancelled), `close` stops that Envoy rather than leaving it running
        await gateway.supervisor.stop(terminate=True)
        del self._gateways[key]
        self._pool.release(key)
        shutil.rmtree(gateway.supervisor.directory, ignore_errors=True)

    async def _remove_leftovers(self, wanted_dirs: set[str]) -> None:
        """Stop Envoys and delete directories a previous control plane left for Gateways that
        are no longer wanted, and release their addresses."""
        if self._proxies_dir.is_dir():
            for directory in sorted(self._proxies_dir.iterdir()):
                if directory.is_dir() and directory.name not in wanted_dirs:
                    await stop_leftover(directory, self._sockets.admin(directory.name))
                    shutil.rmtree(directory, ignore_errors=True)
        for key_text in self._pool.assigned():
            namespace, _, name = key_text.partition("/")
            if proxy_dir_name(GatewayKey(namespace, name)) not in wanted_dirs:
                self._pool.release(GatewayKey(namespace, name))

    # -- ports --------------------------------------------------------------------------------

    def _save_ports(self, key: GatewayKey, gateway: _Gateway) -> None:
        directory = gateway.supervisor.directory
        served = {str(p.port): p.bind_port for p in gateway.ports.values() if p.error is None}
        data = {"address": gateway.assignment.address, "ports": served}
        with contextlib.suppress(OSError):
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / (PORTS_FILE + ".tmp")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, directory / PORTS_FILE)

    @staticmethod
    def _load_ports(directory: Path) -> tuple[str | None, dict[int, int]]:
        """(address, {port: bind_port}) from the proxy's `ports.json`, if readable."""
        try:
            data = json.loads((directory / PORTS_FILE).read_text())
            return str(data["address"]), {int(p): int(b) for p, b in data["ports"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None, {}

    async def _reprobe_loop(self) -> None:
        while True:
            await asyncio.sleep(REPROBE_INTERVAL)
            changed = False
            for key, gateway in self._gateways.items():
                address = gateway.assignment.address
                if address is None:
                    continue
                for port, state in list(gateway.ports.items()):
                    if state.error is None:
                        continue
                    fresh = resolve_port(address, port, self._offset, self._probe,
                                         gateway.ir.transports(port))
                    if fresh != state:
                        gateway.ports[port] = fresh
                        self._save_ports(key, gateway)
                        changed = True
            if changed:
                self._publish()

    # -- state --------------------------------------------------------------------------------

    @staticmethod
    def _state(key: GatewayKey, gateway: _Gateway) -> InfraState:
        address = gateway.assignment.address
        supervisor = gateway.supervisor
        messages = [m for m in (gateway.assignment.message, supervisor.message) if m]
        return InfraState(
            key=key,
            address=address,
            ports=tuple(gateway.ports[p] for p in sorted(gateway.ports)),
            ready=supervisor.ready and address is not None,
            message="; ".join(messages),
            address_unusable=gateway.assignment.unusable,
        )

    def _publish(self) -> None:
        if not self._applying:
            self._subscribers.publish(self.states())
