"""The controller's /readyz turns 503 while it has lost the API server, and 200 again after."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import Cluster

pytestmark = pytest.mark.e2e


def readyz(ops: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(ops + "/readyz", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_readyz_fails_while_the_api_watch_is_lost(cluster: Cluster) -> None:
    cluster.install()
    _, ops = cluster.controller("controller", "--ready-watch-grace", "1")
    assert readyz(ops) == (200, "ok")

    cluster.procs[0].send_signal(signal.SIGTERM)
    cluster.procs[0].wait(timeout=20)
    status, text = wait_for("/readyz to fail", lambda: (lambda r: r if r[0] == 503 else None)(
        readyz(ops)))
    assert "no list or watch from the API server" in text

    cluster.procs[0] = cluster.start_apiserver()
    wait_for("/readyz to pass again", lambda: readyz(ops) == (200, "ok"), timeout=90)
