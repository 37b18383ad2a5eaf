"""The state directory of a standalone stack: one owner at a time, readable by that owner only.

The state directory holds the API server's database (every Secret's private key), the API
server's CA and token, the kubeconfig and each Envoy's configuration. `owned(state_dir)` is held
for the life of a `Standalone` stack (`propylon up`, the conformance runner):

1. **One instance per state directory.** It creates the directory (mode 0700) if missing and
   takes an exclusive `fcntl.flock` on `<state-dir>/lock` before anything else is written there,
   then writes its pid into that file. If another process holds the lock it raises
   `StateDirInUse` ("state dir DIR is in use by propylon up (pid N)") having changed nothing: the
   lock file of the running owner is opened, never truncated. The lock belongs to the open file,
   whose descriptor is close-on-exec, so neither the API server child nor an Envoy keeps it: when
   the owner dies (even by SIGKILL) the kernel releases it and the next `propylon up` starts and
   adopts the Envoys still running.
2. **Private files.** Once it owns the directory it tightens what is not private yet (a
   directory made by an older version): group and others lose every permission (directories
   0755 become 0700, files 0644 become 0600), with one WARNING line naming what it changed.
   Then it sets the process umask to 0o077 until it is released, so every file the stack creates
   there afterwards (database, WAL and SHM, kubeconfig, JSON state, Envoy bootstraps and logs,
   sockets) is created private, with no window in which it is readable by others; child
   processes (the API server, Envoys) inherit that umask. `write_private` writes one file mode
   0600 whatever the umask (keys, tokens; `propylon migrate`'s Secrets).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE = "lock"
PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
_LISTED = 8  # names given in the log line before "and N more"


def write_private(path: Path, data: bytes) -> None:
    """Write `path` mode 0600 in one step: a reader (kubectl while the API server process
    restarts) sees the old content or the new, never an empty file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), FILE_MODE)  # before any byte is written, if tmp was left wider
        f.write(data)
    os.replace(tmp, path)


class StateDirInUse(Exception):
    """Another live process owns the state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        owner = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"state dir {state_dir} is in use by propylon up ({owner})")
        self.state_dir = state_dir
        self.pid = pid


@contextmanager
def owned(state_dir: Path) -> Iterator[None]:
    """Own `state_dir` (lock, private modes, private umask) until the block ends; see the
    module docstring. Raises `StateDirInUse` at once if another process owns it."""
    state_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = _lock(state_dir)
    try:
        tightened = tighten(state_dir)
        if tightened:
            log.warning("state dir %s was open to other users: made %d paths private (group "
                        "and others removed): %s", state_dir, len(tightened), _describe(tightened))
        previous = os.umask(PRIVATE_UMASK)
        try:
            yield
        finally:
            os.umask(previous)
    finally:
        os.close(fd)  # releases the lock; the file stays, so a waiting owner never races on it


def _lock(state_dir: Path) -> int:
    """The close-on-exec descriptor of the locked lock file, our pid written in it."""
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            raise
        raise StateDirInUse(state_dir, _owner_pid(path)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _owner_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):  # the owner may not have written it yet
        return None


def tighten(state_dir: Path) -> list[Path]:
    """Take every permission of group and others from `state_dir` and everything under it (a
    0755 directory becomes 0700, a 0644 file 0600); the paths changed, relative to `state_dir`.
    Symbolic links are neither followed (as `os.walk` does not) nor changed."""
    changed: list[Path] = []
    for root, _, files in os.walk(state_dir):
        base = Path(root)
        for path in [base, *(base / name for name in files)]:
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode) or mode & PRIVATE_UMASK == 0:
                continue
            os.chmod(path, mode & ~PRIVATE_UMASK)
            changed.append(path.relative_to(state_dir))
    return changed


def _describe(paths: list[Path]) -> str:
    names = [str(p) if str(p) != "." else "the directory itself" for p in paths[:_LISTED]]
    more = len(paths) - len(names)
    return ", ".join(names) + (f" and {more} more" if more else "")
