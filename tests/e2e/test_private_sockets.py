"""Only the owner of a standalone stack can reach its xDS server, its htpasswd check service
and its Envoys' admin.

A real `propylon up` serves a Gateway with an HTTPS listener (its private key reaches Envoy over
SDS). Then: no process of the stack listens on a TCP port other than the Gateway's listener ports
and the API server's; the xDS, htpasswd and admin Unix sockets are 0600 in a 0700 directory; a process of
another user (nobody) gets EACCES connecting to either while the owner connects and the Envoy
keeps serving; and after a SIGKILL of the control plane the next `propylon up` binds the same
sockets, adopts the running Envoy and reconfigures it; Ctrl-C then leaves no socket directory
outside the state dir. Both with a short state dir and with one
too long for a Unix socket path (the sockets then live in a short private directory the state dir
links to). The state dir's parents are made enterable by everyone, so that what keeps `nobody`
out is the socket directory itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, Standalone, wait_for
from .test_walkthrough import HOST, condition, https_get, make_cert, served_port, tls_secret_yaml

pytestmark = pytest.mark.e2e

NOBODY = 65534
MAX_SOCKET_PATH = 107
PORT = served_port(443)

GATEWAY = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: private, namespace: default}}
spec:
  gatewayClassName: propylon
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    hostname: {HOST}
    tls: {{mode: Terminate, certificateRefs: [{{kind: Secret, name: app-tls}}]}}
"""

REDIRECT = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: moved, namespace: default}}
spec:
  parentRefs: [{{name: private}}]
  hostnames: [{HOST}]
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {{hostname: elsewhere.example, statusCode: 302}}
"""

CONNECT = """
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
else:
    print("connected")
"""


def connect_as(path: Path, uid: int | None) -> str:
    """What connecting to the Unix socket `path` gives, as `uid` (None: as ourselves)."""
    as_user = [] if uid is None else [shutil.which("setpriv") or "setpriv", f"--reuid={uid}",
                                      f"--regid={uid}", "--clear-groups"]
    result = subprocess.run([*as_user, sys.executable, "-I", "-c", CONNECT, str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def tcp_listen_ports(pids: set[int]) -> set[int]:
    """The TCP ports (IPv4 and IPv6) on which any of `pids` holds a listening socket."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports


def api_port(kubeconfig: Path) -> int:
    server = next(line for line in kubeconfig.read_text().splitlines() if "server:" in line)
    return int(server.rstrip().rpartition(":")[2])


@pytest.fixture(params=["short", "long"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Standalone]:
    base = Path(tempfile.mkdtemp(prefix="propylon-e2e-"))
    base.chmod(0o755)  # what keeps other users out must be the socket directory
    state_dir = base / "state"
    if request.param == "long":
        state_dir = base / ("d" * 60) / ("e" * 60) / "state"
    state_dir.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    sa = Standalone(state_dir, tmp_path / "kubecache", tmp_path / "propylon.log")
    sockets = state_dir / "sockets"
    try:
        yield sa
    finally:
        if sa.proc and sa.proc.poll() is None:
            sa.proc.send_signal(signal.SIGINT)
            try:
                sa.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sa.proc.kill()
        for pid in sa.envoy_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if sockets.is_symlink():
            shutil.rmtree(sockets.resolve(), ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def test_xds_and_admin_are_reachable_only_by_the_owner(stack: Standalone, tmp_path: Path) -> None:
    sa = stack
    sa.start()
    sa.kubectl("apply", "-f", str(REPO / "examples" / "quickstart" / "gatewayclass.yaml"))
    cert, key, der = make_cert(tmp_path, "private")
    sa.kubectl("apply", "-f", "-", input=tls_secret_yaml(sa, cert, key))
    sa.kubectl("apply", "-f", "-", input=GATEWAY)
    gateway = wait_for("the HTTPS Gateway programmed", lambda: (
        g := sa.get_json("gateway", "private")) and condition(g, "Programmed") == "True" and g)
    address = gateway["status"]["addresses"][0]["value"]
    wait_for("HTTPS served with the Secret's certificate (no route yet: 404)",
             lambda: https_get(address, PORT, HOST, cert)[::2] == (404, der))
    [envoy] = sa.envoy_pids()

    # No TCP listener but the Gateway's and the API server's.
    assert sa.proc is not None
    stack_pids = descendants(sa.proc.pid) | {envoy}
    assert tcp_listen_ports(stack_pids) == {PORT, api_port(sa.kubeconfig)}

    # The sockets: 0600 in a 0700 directory, recorded in the state dir, short enough.
    directory = (sa.state_dir / "sockets").resolve()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    sockets = sorted(directory.iterdir())
    assert [p.name for p in sockets if p.name in ("xds.sock", "htpasswd.sock")] == [
        "htpasswd.sock", "xds.sock"]
    assert len(sockets) == 3  # xDS, the htpasswd check service and the one Envoy's admin
    for path in sockets:
        mode = path.lstat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, path
        assert len(os.fsencode(path)) <= MAX_SOCKET_PATH

    # Another user is refused; the owner gets in; the Envoy keeps serving.
    for path in sockets:
        assert connect_as(path, NOBODY) == "EACCES", path
        assert connect_as(path, None) == "connected", path
    assert https_get(address, PORT, HOST, cert)[::2] == (404, der)

    # SIGKILL the control plane: the next one binds the same sockets and adopts the Envoy.
    sa.kill()
    sa.start()
    sa.kubectl("apply", "-f", "-", input=REDIRECT)
    wait_for("a route applied after the restart reaches the adopted Envoy",
             lambda: https_get(address, PORT, HOST, cert)[::2] == (302, der))
    assert sa.envoy_pids() == [envoy]
    assert sorted(directory.iterdir()) == sockets
    assert tcp_listen_ports(descendants(sa.proc.pid) | {envoy}) == {PORT, api_port(sa.kubeconfig)}

    # Ctrl-C stops the Envoy; a directory outside the state dir goes with it.
    assert sa.interrupt() == 0
    assert directory.exists() == (directory.parent == sa.state_dir)
