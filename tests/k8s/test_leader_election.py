"""Two controller replicas on one Lease: only the leader writes; killing it hands over."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import QUICKSTART, Cluster, condition, metric

pytestmark = pytest.mark.e2e

FAST = ("--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.3")


def test_the_other_replica_takes_over_when_the_leader_is_killed(cluster: Cluster,
                                                                tmp_path: Path) -> None:
    cluster.install()
    replicas = {name: cluster.controller(name, *FAST) for name in ("replica-a", "replica-b")}
    leader = wait_for("exactly one leader", lambda: (lambda leaders: leaders[0] if len(
        leaders) == 1 else None)([n for n, (_, ops) in replicas.items()
                                  if metric(ops, "propylon_leader") == 1]))
    [follower] = set(replicas) - {leader}
    lease = cluster.get("lease", "propylon-controller", "-n", "propylon-system")
    assert lease["spec"]["holderIdentity"]

    cluster.apply_quickstart_gateway()
    wait_for("Gateway Accepted", lambda: condition(
        cluster.get("gateway", "api-gateway"), "Accepted").get("status") == "True")
    wait_for("the proxy Deployment", lambda: cluster.get("deployment", "propylon-api-gateway"))
    assert metric(replicas[follower][1], "propylon_status_writes_total") == 0
    assert metric(replicas[follower][1], "propylon_leader") == 0

    replicas[leader][0].send_signal(signal.SIGKILL)
    replicas[leader][0].wait()
    wait_for("the follower to lead", lambda: metric(replicas[follower][1],
                                                    "propylon_leader") == 1, timeout=30)
    assert cluster.get("lease", "propylon-controller", "-n", "propylon-system")["spec"][
        "holderIdentity"] != lease["spec"]["holderIdentity"]

    second = yaml.safe_load((QUICKSTART / "gateway.yaml").read_text())
    second["metadata"]["name"] = "second"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(second))
    wait_for("the new Gateway's status", lambda: condition(
        cluster.get("gateway", "second"), "Accepted").get("status") == "True")
    wait_for("the new Gateway's proxies", lambda: cluster.get("deployment", "propylon-second"))
