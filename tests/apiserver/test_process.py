"""The API server in a child process, as `propylon up` runs it: serves the same state and
kubeconfig, ignores Ctrl-C (the parent stops it), stops on SIGTERM or when the parent is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource

from propylon.apiserver.process import APIServerProcess

from .conftest import gateway

Gateway = create_namespaced_resource("gateway.networking.k8s.io", "v1", "Gateway", "gateways")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"


async def gone(pid: int, timeout: float = 15.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_serves_the_state_dir_and_keeps_the_url_across_restarts(tmp_path: Path) -> None:
    first = APIServerProcess(tmp_path)
    await first.start()
    try:
        client = AsyncClient(config=KubeConfig.from_file(first.kubeconfig_path))
        created = await client.create(Gateway.from_dict(gateway("gw1")))
        await client.close()
    finally:
        await first.stop()
    assert not alive(first.pid)
    second = APIServerProcess(tmp_path)
    await second.start()
    try:
        assert second.url == first.url
        client = AsyncClient(config=KubeConfig.from_file(second.kubeconfig_path))
        found = await client.get(Gateway, "gw1", namespace="default")
        assert found.metadata.uid == created.metadata.uid
        await client.close()
    finally:
        await second.stop()


async def test_ctrl_c_is_left_to_the_parent(tmp_path: Path) -> None:
    server = APIServerProcess(tmp_path)
    await server.start()
    try:
        os.kill(server.pid, signal.SIGINT)
        await asyncio.sleep(0.5)
        client = AsyncClient(config=KubeConfig.from_file(server.kubeconfig_path))
        await client.create(Gateway.from_dict(gateway("gw1")))
        await client.close()
    finally:
        await server.stop()
    assert not alive(server.pid)


async def test_stops_when_the_parent_is_gone(tmp_path: Path) -> None:
    server = APIServerProcess(tmp_path)
    await server.start()
    assert server._proc is not None and server._proc.stdin is not None
    server._proc.stdin.close()  # what the kernel does when the parent dies
    assert await gone(server.pid)
    await server.stop()


async def test_a_child_that_cannot_serve_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = APIServerProcess(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="exited with code"):
            await server.start()
