"""Where a state dir's Unix sockets live, for short and too-long state dir paths."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from propylon.infra.host.private_sockets import MAX_PATH, SocketDirError, private_sockets


@pytest.fixture
def long_state_dir(tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / ("x" * 80) / "state"
    yield state_dir
    link = state_dir / "sockets"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)


def bind(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


def test_short_state_dir_keeps_its_sockets_in_a_private_subdirectory(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "sockets").mkdir(mode=0o755)  # left open by someone: tightened
    sockets = private_sockets(state_dir)
    assert sockets.directory == state_dir / "sockets"
    assert stat.S_IMODE(sockets.directory.stat().st_mode) == 0o700
    assert sockets.xds == state_dir / "sockets" / "xds.sock"
    assert sockets.admin("default_a") != sockets.admin("default_b")
    assert sockets.admin("default_a").parent == sockets.directory


def test_too_long_state_dir_links_to_a_short_private_directory(long_state_dir: Path) -> None:
    assert len(os.fsencode(long_state_dir / "sockets" / "xds.sock")) > MAX_PATH
    sockets = private_sockets(long_state_dir)
    link = long_state_dir / "sockets"
    assert link.is_symlink() and link.resolve() == sockets.directory
    assert stat.S_IMODE(sockets.directory.stat().st_mode) == 0o700
    longest = sockets.admin("ns_" + "n" * 253)
    assert len(os.fsencode(longest)) <= MAX_PATH
    bind(longest)  # the kernel takes it
    bind(sockets.xds)
    # The same state dir finds the same directory again (a restarted control plane).
    assert private_sockets(long_state_dir) == sockets


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a directory of another user")
def test_a_short_directory_of_another_user_is_refused(long_state_dir: Path) -> None:
    directory = private_sockets(long_state_dir).directory
    directory.rmdir()
    directory.mkdir(mode=0o777)
    os.chown(directory, 65534, 65534)  # planted by nobody before we start
    with pytest.raises(SocketDirError, match="not a directory owned by uid 0; remove it"):
        private_sockets(long_state_dir)
    directory.rmdir()
    directory.symlink_to(long_state_dir)
    with pytest.raises(SocketDirError, match="not a directory owned by uid"):
        private_sockets(long_state_dir)
    directory.unlink()
