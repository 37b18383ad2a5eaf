"""Fixtures for the xDS tests, reusable by other suites: the real Envoy binary, an ADS server on
127.0.0.1:0, Envoy processes bootstrapped against it, and small aiohttp backends that answer
with their own name.

`envoy_factory(node_id, xds_port)` starts an Envoy (`--disable-hot-restart`, its admin on a Unix
socket of its own, reached with `propylon.infra.host.envoy_admin`) and (unless `wait_ready=False`: Envoy is ready only once it has a config) waits until its
admin `/ready` answers; every Envoy started is terminated at teardown.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from propylon.infra.host.envoy_admin import admin_get
from propylon.xds.bootstrap import bootstrap, pipe_address
from propylon.xds.server import SnapshotCache, XdsServer
from xds_support import (
    BackendFactory,
    EnvoyFactory,
    EnvoyProcess,
    XdsFixture,
    free_port,
    wait_for,
)

READY_TIMEOUT = 60.0


def _envoy_path() -> str:
    candidate = Path(sys.executable).parent / "envoy"
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("envoy")
    if found is None:
        raise RuntimeError("envoy binary not found next to the interpreter or on PATH")
    return found


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    """Path of the real `envoy` binary installed in the virtualenv."""
    return _envoy_path()


@pytest.fixture
async def xds() -> AsyncIterator[XdsFixture]:
    """An ADS server on 127.0.0.1 with an empty snapshot cache."""
    cache = SnapshotCache()
    server = XdsServer(cache)
    port = await server.start("127.0.0.1", 0)
    yield XdsFixture(cache, server, port)
    await server.stop(0.5)


@pytest.fixture
async def envoy_factory(envoy_bin: str, tmp_path: Path) -> AsyncIterator[EnvoyFactory]:
    """Start real Envoys bound to an ADS server; all are stopped at teardown."""
    started: list[EnvoyProcess] = []
    sockets = tempfile.TemporaryDirectory(prefix="envoy-admin-")  # short: a socket path's limit

    async def start(node_id: str, xds_port: int, wait_ready: bool = True) -> EnvoyProcess:
        admin = Path(sockets.name) / f"{len(started)}.sock"
        config = tmp_path / f"envoy-{len(started)}.json"
        bs = bootstrap(node_id, "127.0.0.1", xds_port, 0)  # ADS on TCP, admin as in standalone:
        bs["admin"]["address"] = pipe_address(admin, 0o600)
        config.write_text(json.dumps(bs))
        log = open(tmp_path / f"envoy-{len(started)}.log", "wb")
        process = await asyncio.create_subprocess_exec(
            envoy_bin, "-c", str(config), "--disable-hot-restart", "--concurrency", "1",
            "-l", "warning", stdout=log, stderr=log)
        log.close()
        envoy = EnvoyProcess(process, admin)
        started.append(envoy)

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"envoy exited with {process.returncode}")
            try:
                return (await admin_get(admin, "/ready"))[0] == 200
            except aiohttp.ClientError:
                return False

        if wait_ready:
            await wait_for(ready, READY_TIMEOUT, "envoy /ready")
        return envoy

    yield start
    for envoy in started:
        if envoy.process.returncode is None:
            envoy.process.terminate()
            await envoy.process.wait()
    sockets.cleanup()


@pytest.fixture
async def backend_factory() -> AsyncIterator[BackendFactory]:
    """Start aiohttp backends on 127.0.0.1 answering every request with their name; returns
    the port."""
    runners: list[web.AppRunner] = []

    async def start(name: str, port: int = 0) -> int:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=name, headers={"x-path": request.path_qs})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port or free_port())
        await site.start()
        runners.append(runner)
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()
