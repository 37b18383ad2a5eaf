"""HostInfra with real Envoy processes, a real xDS server and real sockets."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from propylon.infra.host.envoy_process import envoy_args, find_envoy, pid_alive
from propylon.infra.host.manager import HostInfra
from propylon.infra.host.private_sockets import private_sockets
from propylon.ir.model import (
    DirectResponse,
    GatewayIR,
    GatewayKey,
    InfraIR,
    InfraListener,
    InfraState,
    Listener,
    PortState,
    Route,
    RouteConfig,
    RouteMatch,
    VirtualHost,
)
from propylon.xds.bootstrap import bootstrap
from propylon.xds.server import SnapshotCache, XdsServer
from propylon.xds.translate.build import translate

KEY = GatewayKey("default", "web")
WAIT = 60.0


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


def infra_ir(*ports: int, requested: tuple[str, ...] = ()) -> dict[GatewayKey, InfraIR]:
    listeners = tuple(InfraListener(f"l{port}", port, "HTTP") for port in ports)
    return {KEY: InfraIR(KEY, "propylon", listeners, requested_addresses=requested)}


def pid_of(state_dir: Path, key: GatewayKey = KEY) -> int | None:
    try:
        return int(json.loads((state_dir / "envoy" / f"{key.namespace}_{key.name}" / "pid.json").read_text())["pid"])
    except (OSError, ValueError):
        return None


def free_port_on(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def serving_ir(address: str, port: int, bind_port: int) -> GatewayIR:
    route = Route("hello", RouteMatch(), direct_response=DirectResponse(200, "hello from envoy"))
    return GatewayIR(
        KEY,
        listeners=(Listener("http", address, port, bind_port, "HTTP", route_config="rc"),),
        route_configs=(RouteConfig("rc", (VirtualHost("any", ("*",), (route,)),)),),
        clusters=(),
        secrets=(),
    )


async def get_text(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            return await response.text()


async def answers(url: str) -> bool:
    try:
        return await get_text(url) == "hello from envoy"
    except (TimeoutError, aiohttp.ClientError):
        return False


@pytest.fixture
async def xds(tmp_path: Path) -> AsyncIterator[tuple[XdsServer, Path]]:
    """An xDS server on the socket of the state dir `tmp_path / "state"`, and that dir."""
    state_dir = tmp_path / "state"
    server = XdsServer(SnapshotCache())
    await server.start_unix(private_sockets(state_dir).xds)
    try:
        yield server, state_dir
    finally:
        await server.stop(0)


async def test_envoy_becomes_ready_serves_and_survives_a_control_plane_restart(
    xds: tuple[XdsServer, Path]
) -> None:
    server, state_dir = xds
    port = free_port_on("127.0.95.1")
    infra = HostInfra(state_dir, pool="127.0.95.1-127.0.95.9")
    changes: list[InfraState] = []
    infra.subscribe(lambda: changes.append(infra.states()[KEY]))
    adopted_infra: HostInfra | None = None
    try:
        await infra.apply(infra_ir(port))
        state = infra.states()[KEY]
        assert state.address == "127.0.95.1"
        assert state.ports == (PortState(port, port),)
        assert not state.ready  # no snapshot yet: Envoy waits for its first configuration

        server.cache.set(str(KEY), translate(serving_ir("127.0.95.1", port, port)))
        await wait_for(lambda: infra.states()[KEY].ready, "Envoy is ready")
        assert changes[-1].ready and changes[-1].message == ""
        url = f"http://127.0.95.1:{port}/"
        assert await answers(url)
        pid = pid_of(state_dir)

        await infra.close(stop_proxies=False)
        assert pid is not None and pid_alive(pid)
        assert await answers(url), "Envoy must keep serving while no control plane runs"

        adopted_infra = HostInfra(state_dir, pool="127.0.95.1-127.0.95.9")
        await adopted_infra.apply(infra_ir(port))
        # The port Envoy already holds is trusted, not re-probed (a probe would fail now).
        assert adopted_infra.states()[KEY].ports == (PortState(port, port),)
        assert pid_of(state_dir) == pid
        await wait_for(lambda: adopted_infra.states()[KEY].ready, "the adopted Envoy is ready")
        assert await answers(url)

        await adopted_infra.close(stop_proxies=True)
        assert not pid_alive(pid)
        assert not await answers(url)
    finally:
        await infra.close()
        if adopted_infra is not None:
            await adopted_infra.close()


async def test_killed_envoy_is_restarted_and_not_ready_without_control_plane(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    infra = HostInfra(state_dir, pool="127.0.96.1-127.0.96.9")
    messages: list[str] = []
    infra.subscribe(lambda: messages.append(infra.states()[KEY].message))
    try:
        await infra.apply(infra_ir(free_port_on("127.0.96.1")))
        await wait_for(lambda: "waiting for its configuration" in infra.states()[KEY].message,
                       "the admin endpoint answers")
        state = infra.states()[KEY]
        assert not state.ready
        assert f"from the control plane at {private_sockets(state_dir).xds}" in state.message
        first = pid_of(state_dir)
        assert first is not None

        os.kill(first, signal.SIGKILL)
        await wait_for(lambda: any("was killed by SIGKILL" in m for m in messages),
                       "the death is reported")
        await wait_for(lambda: pid_of(state_dir) not in (None, first), "Envoy is restarted")
        second = pid_of(state_dir)
        assert second is not None
        process = infra.process(KEY)  # what the Envoy's Pod shows as its container's status
        assert process.restarts == 1
        assert process.last_exit is not None and process.last_exit.exit_code == 137
        await wait_for(lambda: pid_alive(second) and "waiting for its configuration"
                       in infra.states()[KEY].message, "the new Envoy answers")
    finally:
        await infra.close()
    assert not pid_alive(second)


async def test_port_in_use_is_reported_then_recovers_when_freed(tmp_path: Path) -> None:
    infra = HostInfra(tmp_path / "state", pool="127.0.97.1-127.0.97.9")
    calls: list[InfraState] = []
    infra.subscribe(lambda: calls.append(infra.states()[KEY]))
    other = socket.socket()
    try:
        other.bind(("127.0.97.1", 0))
        other.listen()
        port = other.getsockname()[1]
        await infra.apply(infra_ir(port))
        assert infra.states()[KEY].ports == (PortState(port, None, (
            f"cannot bind 127.0.97.1:{port}: address already in use; "
            "free the port or change the listener's port"
        )),)
        other.close()
        await wait_for(lambda: infra.states()[KEY].ports == (PortState(port, port),),
                       "the freed port is re-probed")
        await wait_for(lambda: calls[-1].ports == (PortState(port, port),),
                       "subscribers hear of the recovery")
    finally:
        other.close()
        await infra.close()


def unprivileged(address: str, port: int, transport: str = "TCP") -> None:
    if port < 1024:
        raise PermissionError(errno.EACCES, "Permission denied")


async def test_privileged_ports_mapped_and_requested_addresses(tmp_path: Path) -> None:
    infra = HostInfra(tmp_path / "state", pool="127.0.98.1-127.0.98.9",
                      bind_probe=unprivileged)
    try:
        await infra.apply(infra_ir(80, 443, 8080, requested=("127.0.98.200",)))
        state = infra.states()[KEY]
        assert state.address == "127.0.98.200"
        assert state.ports == (PortState(80, 10080), PortState(443, 10443), PortState(8080, 8080))

        await infra.apply(infra_ir(80, requested=("10.0.0.1",)))
        state = infra.states()[KEY]
        assert state.address is None
        assert not state.ready
        assert "requested address 10.0.0.1 is not a loopback address" in state.message
        assert state.ports[0].error == "not bound: the Gateway has no address"

        await infra.apply(infra_ir(80))
        assert infra.states()[KEY].address == "127.0.98.1"
        assert infra.states()[KEY].ports == (PortState(80, 10080),)
    finally:
        await infra.close()


async def test_gateways_no_longer_wanted_lose_envoy_and_address(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    pool = "127.0.99.1-127.0.99.9"
    infra = HostInfra(state_dir, pool=pool)
    other = GatewayKey("default", "other")
    try:
        await infra.apply({**infra_ir(8080), other: InfraIR(other, "propylon", ())})
        assert (infra.states()[KEY].address, infra.states()[other].address) == ("127.0.99.2", "127.0.99.1")
        first, second = pid_of(state_dir), pid_of(state_dir, other)
        assert first and second
        await infra.apply(infra_ir(8080))
        assert set(infra.states()) == {KEY}
        assert not pid_alive(second)
        assert not (state_dir / "envoy" / "default_other").exists()
        await infra.close(stop_proxies=False)

        # A new control plane whose first wanted set lacks the Gateway stops the leftover Envoy.
        infra = HostInfra(state_dir, pool=pool)
        assert pid_alive(first)
        await infra.apply({})
        assert not pid_alive(first)
        assert json.loads((state_dir / "addresses.json").read_text()) == {}
    finally:
        await infra.close()


async def test_envoy_being_removed_when_the_control_plane_stops_is_stopped(
        tmp_path: Path) -> None:
    """A Gateway's removal cancelled midway (the controller stopped as its Gateway is deleted,
    the end of a run) leaves no Envoy running once the manager is closed."""
    state_dir = tmp_path / "state"
    infra = HostInfra(state_dir, pool="127.0.99.1-127.0.99.9")
    try:
        await infra.apply(infra_ir(8080))
        pid = pid_of(state_dir)
        assert pid and pid_alive(pid)
        supervisor = infra._gateways[KEY].supervisor
        removal = asyncio.create_task(infra.apply({}))
        while supervisor._task is not None:  # cancelled once it stopped watching, before
            await asyncio.sleep(0)           # it stops the Envoy
        removal.cancel()
        with pytest.raises(asyncio.CancelledError):
            await removal
    finally:
        await infra.close()
    left_running = pid_alive(pid)
    if left_running:  # not to hold the address for later tests
        os.kill(pid, signal.SIGKILL)
    assert not left_running


async def test_envoy_of_an_older_version_on_tcp_is_replaced_not_adopted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An Envoy left running by a version that served xDS and admin on loopback TCP must not
    stay reachable by every local user: the next control plane replaces it, and says so."""
    state_dir = tmp_path / "state"
    directory = state_dir / "envoy" / "default_web"
    directory.mkdir(parents=True)
    admin_port = free_port_on("127.0.0.1")
    bootstrap_path = directory / "bootstrap.json"
    bootstrap_path.write_text(json.dumps(
        bootstrap(str(KEY), "127.0.0.1", free_port_on("127.0.0.1"), admin_port)))
    with (directory / "envoy.log").open("ab") as log:
        old = subprocess.Popen([find_envoy(), *envoy_args(bootstrap_path, 1)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (directory / "pid.json").write_text(json.dumps(
        {"pid": old.pid, "admin_port": admin_port, "bootstrap": str(bootstrap_path)}))
    await wait_for(lambda: admin_answers(admin_port), "the old Envoy serves admin on TCP")

    infra = HostInfra(state_dir, pool="127.0.99.10-127.0.99.19")
    try:
        await infra.apply(infra_ir(8080))
        assert old.poll() is not None, "the TCP Envoy must be stopped, not adopted"
        assert not admin_answers(admin_port)
        assert "xDS and admin on loopback TCP ports" in caplog.text
        new = pid_of(state_dir)
        assert new is not None and new != old.pid and pid_alive(new)
        admin = json.loads(bootstrap_path.read_text())["admin"]["address"]
        assert admin == {"pipe": {"path": str(private_sockets(state_dir).admin("default_web")),
                                  "mode": 0o600}}
        await wait_for(lambda: "waiting for its configuration" in infra.states()[KEY].message,
                       "the new Envoy answers on its admin socket")
    finally:
        await infra.close()
        if old.poll() is None:
            old.kill()
        old.wait()


def admin_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def test_envoy_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "envoy"
    broken.write_text("#!/bin/sh\necho 'critical: unable to parse the bootstrap'\nexit 1\n")
    broken.chmod(0o755)
    infra = HostInfra(tmp_path / "state", pool="127.0.99.20-127.0.99.29",
                      envoy_path=str(broken))
    try:
        await infra.apply(infra_ir(8080))
        await wait_for(lambda: "exited with code 1" in infra.states()[KEY].message,
                       "the failed start is reported")
        message = infra.states()[KEY].message
        assert "its log ends with: critical: unable to parse the bootstrap" in message
        assert not infra.states()[KEY].ready
    finally:
        await infra.close()
