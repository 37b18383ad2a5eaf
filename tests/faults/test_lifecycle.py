"""The life of a `propylon up` and its state directory, with real processes.

- One instance per state directory: a second `propylon up` on it exits non-zero at once with
  "state dir DIR is in use by propylon up (pid N)" and leaves the first one untouched
  (kubeconfig, Envoy, Gateway address); a SIGKILLed `propylon up` releases the directory (its
  Envoy holds no lock) and the next one starts and adopts that Envoy.
- Private files: the state directory is 0700 and every file in it 0600 once a Secret has been
  served; an existing directory open to others is tightened on start, with a log line.
- Supervision: the API server process SIGKILLed is started again on the same port (the same
  kubeconfig answers) and the controller writes status again; killed again and again, it makes
  `propylon up` exit non-zero saying the API server cannot be kept running.

Every stack takes a random loopback address pool of its own and a free API port; waits have
deadlines, and the API server's recovery time is printed, not asserted.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from propylon.infra.host.envoy_process import pid_alive
from propylon.statedir import StateDirInUse, owned
from tests.e2e.conftest import BIN, REPO, Standalone, wait_for
from tests.e2e.test_walkthrough import condition, make_cert, tls_secret_yaml

pytestmark = pytest.mark.e2e

QUICKSTART = REPO / "examples" / "quickstart"
GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: NAME, namespace: default}
spec:
  gatewayClassName: propylon
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
"""
HTTPS_GATEWAY = GATEWAY + """\
  - name: https
    protocol: HTTPS
    port: 8443
    hostname: app.yourdomain.com
    tls: {certificateRefs: [{name: app-tls}]}
"""


def programmed_gateway(sa: Standalone, name: str, manifest: str = GATEWAY) -> dict:
    sa.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"))
    sa.kubectl("apply", "-f", "-", input=manifest.replace("NAME", name))
    return wait_for(f"Gateway {name} programmed", lambda: (
        g := sa.get_json("gateway", name)) and condition(g, "Programmed") == "True" and g)


def apiserver_pid(sa: Standalone) -> int | None:
    """The live API server child of `propylon up`, if there is one."""
    assert sa.proc is not None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == sa.proc.pid and b"propylon.apiserver.process" in cmdline and pid_alive(int(entry.name)):
            return int(entry.name)
    return None


def modes(state_dir: Path) -> dict[str, int]:
    """Permission bits of the state directory and of everything in it, by relative path."""
    found = {".": stat.S_IMODE(state_dir.stat().st_mode)}
    for path in state_dir.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(state_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def private(path: Path, mode: int) -> bool:
    """Directories 0700, regular files 0600; anything else (a Unix socket, created 0700 under
    umask 077) at least closed to group and others."""
    if path.is_dir():
        return mode == 0o700
    if path.is_file():
        return mode == 0o600
    return mode & 0o077 == 0


def assert_private(state_dir: Path) -> None:
    wrong = {name: oct(mode) for name, mode in modes(state_dir).items()
             if not private(state_dir / name, mode)}
    assert not wrong, f"not private (want dirs 0700, files 0600): {wrong}"


def test_second_up_on_the_same_state_dir_is_refused_and_touches_nothing(
        standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    assert sa.proc is not None
    gateway = programmed_gateway(sa, "first")
    address = gateway["status"]["addresses"][0]["value"]
    [envoy_pid] = sa.envoy_pids()
    kept = [name for name in ("kubeconfig", "addresses.json", "envoy/default_first/pid.json",
                              "xds.json") if (sa.state_dir / name).exists()]
    assert len(kept) >= 3  # the xDS port file exists only while xDS is served on TCP
    before = {name: (sa.state_dir / name).read_bytes() for name in kept}
    names_before = set(modes(sa.state_dir))

    try:
        second = subprocess.run(
            [str(BIN / "propylon"), "up", "--state-dir", str(sa.state_dir)],
            capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"a second propylon up on {sa.state_dir} kept running") from err

    assert second.returncode != 0
    assert second.stderr.strip() == (
        f"state dir {sa.state_dir} is in use by propylon up (pid {sa.proc.pid})")
    assert {name: (sa.state_dir / name).read_bytes() for name in kept} == before
    assert set(modes(sa.state_dir)) == names_before  # no file added or removed
    assert sa.kubectl("get", "ns").returncode == 0
    assert sa.envoy_pids() == [envoy_pid] and pid_alive(envoy_pid)
    assert sa.get_json("gateway", "first")["status"]["addresses"][0]["value"] == address


def test_sigkilled_up_releases_the_state_dir(standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    programmed_gateway(sa, "survivor")
    [envoy_pid] = sa.envoy_pids()

    sa.kill()
    assert pid_alive(envoy_pid)  # the Envoy outlives its control plane, without keeping the lock

    sa.start()  # waits until the new API server answers: the lock was free
    assert sa.proc is not None and sa.proc.poll() is None
    assert (sa.state_dir / "lock").read_text().strip() == str(sa.proc.pid)
    wait_for("the Gateway programmed by the new control plane", lambda: condition(
        sa.get_json("gateway", "survivor"), "Programmed") == "True")
    assert sa.envoy_pids() == [envoy_pid]  # adopted, not restarted


def test_state_dir_is_private_once_a_secret_is_served(
        standalone: Standalone, tmp_path: Path) -> None:
    sa = standalone
    sa.start()
    cert, key, _ = make_cert(tmp_path, "app")
    sa.kubectl("apply", "-f", "-", input=tls_secret_yaml(sa, cert, key))
    programmed_gateway(sa, "private", HTTPS_GATEWAY)
    assert (sa.state_dir / "state.db-wal").exists()
    assert sa.envoy_pids()
    assert_private(sa.state_dir)


def test_open_state_dir_is_tightened_on_start(standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    programmed_gateway(sa, "opened")
    assert sa.interrupt() == 0
    opened = modes(sa.state_dir)
    for name in opened:  # as an older version left it
        path = sa.state_dir / name
        path.chmod(0o755 if path.is_dir() else 0o644)

    sa.start()
    assert_private(sa.state_dir)
    assert (f"state dir {sa.state_dir} was open to other users: made {len(opened)} paths "
            "private (group and others removed): the directory itself, ") in sa.log_path.read_text()


def test_tightening_never_follows_a_symbolic_link(tmp_path: Path) -> None:
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    (state_dir / "link").symlink_to(outside)
    (state_dir / "own.json").write_text("{}")
    (state_dir / "own.json").chmod(0o644)

    with owned(state_dir):
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((state_dir / "own.json").stat().st_mode) == 0o600
        assert stat.S_IMODE(outside.stat().st_mode) == 0o644
        with pytest.raises(StateDirInUse, match=rf"^state dir {state_dir} is in use by propylon "
                                                 rf"up \(pid {os.getpid()}\)$"):
            with owned(state_dir):
                pass
    with owned(state_dir):  # released when the first owner is done
        pass


def test_killed_api_server_comes_back_and_the_controller_recovers(
        standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    sa.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"))
    wait_for("GatewayClass accepted", lambda: condition(
        sa.get_json("gatewayclass", "propylon"), "Accepted") == "True")
    kubeconfig = sa.kubeconfig.read_bytes()

    killed = apiserver_pid(sa)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    began = time.monotonic()
    wait_for("kubectl answered by a new API server", lambda: sa.kubectl(
        "get", "ns", check=False).returncode == 0 and apiserver_pid(sa) not in (None, killed),
        timeout=30, every=0.05)
    print(f"\nAPI server SIGKILL: kubectl answered again after {time.monotonic() - began:.2f}s")

    assert sa.kubeconfig.read_bytes() == kubeconfig
    sa.kubectl("apply", "-f", "-", input=GATEWAY.replace("NAME", "after"))
    wait_for("status of a Gateway applied after the restart", lambda: condition(
        sa.get_json("gateway", "after"), "Programmed") == "True", timeout=30)
    print(f"API server SIGKILL: the controller programmed a new Gateway "
          f"{time.monotonic() - began:.2f}s after the kill")
    log = sa.log_path.read_text()
    assert f"ERROR propylon.apiserver.process: the API server process (pid {killed}) died: " \
           "killed by signal SIGKILL" in log
    assert sa.proc is not None and sa.proc.poll() is None


def test_api_server_that_keeps_dying_stops_up(standalone: Standalone) -> None:
    sa = standalone
    sa.start()
    proc = sa.proc
    assert proc is not None
    killed: list[int] = []

    def killed_again() -> bool:
        """Kill each new API server child as it appears; true once propylon up has exited."""
        pid = apiserver_pid(sa)
        if pid is not None and pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return proc.poll() is not None

    wait_for("propylon up to give up on its API server", killed_again, timeout=120, every=0.02)
    print(f"\nAPI server killed {len(killed)} times: propylon up exited with {proc.returncode}")
    assert proc.returncode != 0
    assert "the API server cannot be kept running: its process died" in sa.log_tail()
