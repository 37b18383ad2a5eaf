"""Where a standalone stack's Unix sockets live: a directory only its owner can enter.

The xDS server (`xds.sock`), the htpasswd check service (`htpasswd.sock`) and the admin interface of every Envoy (`admin-<digest>.sock`, one
per Gateway) listen on Unix sockets in one directory of mode 0700, each socket of mode 0600, so
that no other local user can ask for a listener's private key over SDS or stop an Envoy through
its admin `/quitquitquit`.

The directory is `<state-dir>/sockets`. A Unix socket path holds at most 107 bytes, and a state
dir (a pytest temporary directory, a deep home) can be longer: then the sockets live in
`<tmp>/propylon-<uid>-<digest of the state dir>` instead, and `<state-dir>/sockets` is a symbolic
link to it, so the state dir still records where they are. That directory's name depends only on
the user and the state dir, so a restarted control plane binds the same paths and the Envoys it
adopts find it again; a stack that stops its Envoys removes it (`remove_linked`). Since anyone may create names in the shared temporary directory, an
existing one is used only when it is a real directory owned by this user (then tightened to
0700); anything else is refused with an error saying what to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from propylon.htpasswd import service

LINK = "sockets"
XDS_SOCKET = "xds.sock"
MAX_PATH = 107  # sun_path is 108 bytes, NUL included
_DIGEST = 16
_LONGEST_NAME = len(f"admin-{'0' * _DIGEST}.sock")


class SocketDirError(RuntimeError):
    """The private socket directory cannot be made safe."""


@dataclass(frozen=True)
class PrivateSockets:
    """The socket directory of one state dir and the paths in it."""

    directory: Path
    link: Path | None = None  # `<state-dir>/sockets` when it links to `directory`

    @property
    def xds(self) -> Path:
        return self.directory / XDS_SOCKET

    @property
    def htpasswd(self) -> Path:
        """The htpasswd check service's socket (`propylon.htpasswd.service`)."""
        return self.directory / service.SOCKET

    def admin(self, proxy: str) -> Path:
        """The admin socket of the Envoy whose proxy directory is named `proxy`."""
        digest = hashlib.sha256(proxy.encode()).hexdigest()[:_DIGEST]
        return self.directory / f"admin-{digest}.sock"

    def remove_linked(self) -> None:
        """Once nothing serves there any more, remove a directory outside the state dir (and
        the link to it), so that stopped stacks leave nothing in the temporary directory."""
        if self.link is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.link.unlink(missing_ok=True)


def _fits(directory: Path) -> bool:
    return len(os.fsencode(directory)) + 1 + _LONGEST_NAME <= MAX_PATH


def _make_private(directory: Path) -> None:
    """Create `directory` (0700) or accept an existing one only if it is a real directory of
    this user; leave it at 0700."""
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SocketDirError(
            f"{directory} (where this state dir's Unix sockets live) exists but is not a "
            f"directory owned by uid {os.getuid()}; remove it and start again")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(directory, 0o700)


def private_sockets(state_dir: Path) -> PrivateSockets:
    """Prepare the socket directory of `state_dir` (created if missing) and return it."""
    state_dir = Path(state_dir).absolute()
    state_dir.mkdir(parents=True, exist_ok=True)
    link = state_dir / LINK
    if _fits(link):
        if link.is_symlink():
            link.unlink()
        _make_private(link)
        return PrivateSockets(link)
    digest = hashlib.sha256(os.fsencode(state_dir)).hexdigest()[:_DIGEST]
    directory = Path(tempfile.gettempdir()) / f"propylon-{os.getuid()}-{digest}"
    if not _fits(directory):
        raise SocketDirError(
            f"the temporary directory {directory.parent} is too long a path for Unix sockets "
            f"next to the long state dir {state_dir}; set TMPDIR to a short directory or choose "
            "a shorter state dir")
    _make_private(directory)
    if not (link.is_symlink() and Path(os.readlink(link)) == directory):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            raise SocketDirError(f"{link} is in the way of the link to {directory}; remove it")
        link.symlink_to(directory)
    return PrivateSockets(directory, link)

