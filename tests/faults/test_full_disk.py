"""A full disk under the API server's state directory: the write is refused with the real cause,
nothing acknowledged is lost, reads keep working, and writes work again once space is freed.

The state directory is on a small tmpfs mounted for the test (the suite runs as root); a test
that cannot mount one fails, it does not skip.
"""

from __future__ import annotations

import errno
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from propylon.apiserver import APIServer

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
VALUE = "x" * 64 * 1024  # each object appends a few dozen pages to the write-ahead log


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test (run as root): "
                    f"{done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the disk is full."""
    with path.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC, err


class Api:
    def __init__(self, server: APIServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.token = (server.state_dir / "token").read_text().strip()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
                method, self.server.url + path,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/json"}) as resp:
            return resp.status, json.loads(await resp.text())

    async def create(self, name: str) -> tuple[int, Any]:
        return await self.call("POST", CONFIGMAPS, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"value": VALUE}})


async def started(state: Path) -> AsyncIterator[Api]:
    server = APIServer(state)
    await server.start()
    context = ssl.create_default_context(cafile=str(state / "ca.crt"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            yield Api(server, session)
    finally:
        await server.stop()


async def test_full_disk_refuses_with_the_cause_and_loses_nothing(small_disk: Path) -> None:
    state = small_disk / "state"
    acknowledged: list[str] = []
    async for api in started(state):
        for i in range(3):
            status, body = await api.create(f"before-{i}")
            assert status == 201, body
            acknowledged.append(f"before-{i}")
        fill(small_disk / "filler")
        refused = None
        for i in range(100):  # the first writes may still fit in space the log already has
            status, body = await api.create(f"full-{i}")
            if status != 201:
                refused = (f"full-{i}", status, body)
                break
            acknowledged.append(f"full-{i}")
        assert refused is not None, "every write succeeded on a full disk"
        name, status, body = refused
        assert status == 500, body
        assert "reason" not in body, body
        assert body["message"].startswith("database or disk is full"), body
        # reads keep working while the disk is full
        status, listed = await api.call("GET", CONFIGMAPS)
        assert status == 200, listed
        assert sorted(o["metadata"]["name"] for o in listed["items"]) == sorted(acknowledged)
        status, body = await api.call("GET", f"{CONFIGMAPS}/{name}")
        assert status == 404, body
        (small_disk / "filler").unlink()
        status, body = await api.create(name)
        assert status == 201, body
        acknowledged.append(name)
        status, body = await api.create("after")
        assert status == 201, body
        acknowledged.append("after")
    async for api in started(state):  # and everything acknowledged survives a restart
        status, listed = await api.call("GET", CONFIGMAPS)
        assert status == 200, listed
        assert sorted(o["metadata"]["name"] for o in listed["items"]) == sorted(acknowledged)
        assert all(o["data"] == {"value": VALUE} for o in listed["items"])
        versions = [int(o["metadata"]["resourceVersion"]) for o in listed["items"]]
        assert len(set(versions)) == len(versions)
