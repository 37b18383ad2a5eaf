"""The failures a cluster produces, against `propylon controller` running as a process.

- the API server restarted under a running controller: every watch drops, resumes, gets 410
  Gone (the restarted server's history is empty) and relists; status still converges;
- a Gateway deleted while the controller could not watch (frozen with SIGSTOP across the API
  server restart): the relist drops it, so its Deployment and Service are removed;
- the controller killed (SIGKILL) and started again while requests flow through Envoy: Envoy
  keeps its configuration, reconnects to the new controller over mutual TLS, and not one
  request fails.
"""

from __future__ import annotations

import signal
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import (
    HOST,
    NAME,
    QUICKSTART,
    Cluster,
    condition,
    free_port,
    http_get,
    metric,
    mount_proxy_files,
)

pytestmark = pytest.mark.e2e


def gateway(name: str) -> str:
    doc = yaml.safe_load((QUICKSTART / "gateway.yaml").read_text())
    doc["metadata"]["name"] = name
    return yaml.safe_dump(doc)


def accepted(cluster: Cluster, name: str) -> bool:
    return condition(cluster.get("gateway", name), "Accepted").get("status") == "True"


def exists(cluster: Cluster, kind: str, name: str) -> bool:
    return bool(cluster.kubectl("get", kind, "--ignore-not-found", "-o", "name", name).strip())


def test_status_converges_after_the_api_server_restarts(cluster: Cluster) -> None:
    cluster.install()
    _, ops = cluster.controller("controller")
    cluster.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"))
    cluster.kubectl("apply", "-f", "-", stdin=gateway("before"))
    restarts = 'propylon_watch_restarts_total{informer="Gateway"}'
    assert metric(ops, restarts) == 0
    wait_for("the first Gateway accepted", lambda: accepted(cluster, "before"))

    cluster.restart_apiserver()
    cluster.kubectl("apply", "-f", "-", stdin=gateway("after"))
    wait_for("the Gateway created after the restart accepted", lambda: accepted(cluster, "after"),
             timeout=60)
    wait_for("its proxies", lambda: exists(cluster, "deployment", "propylon-after"))
    assert (metric(ops, restarts) or 0) >= 1


def test_a_gateway_deleted_during_the_gap_loses_its_proxies(cluster: Cluster) -> None:
    cluster.install()
    controller, _ = cluster.controller("controller")
    cluster.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"))
    for name in ("kept", "gone"):
        cluster.kubectl("apply", "-f", "-", stdin=gateway(name))
    for name in ("kept", "gone"):
        wait_for(f"the proxies of {name}", lambda n=name: exists(cluster, "service",
                                                                 f"propylon-{n}"))

    controller.send_signal(signal.SIGSTOP)
    try:
        cluster.restart_apiserver()
        cluster.kubectl("delete", "gateway", "gone")
    finally:
        controller.send_signal(signal.SIGCONT)

    for kind in ("deployment", "service", "configmap", "serviceaccount"):
        wait_for(f"the {kind} of the deleted Gateway removed",
                 lambda k=kind: not exists(cluster, k, "propylon-gone"))
    assert exists(cluster, "deployment", "propylon-kept")
    assert accepted(cluster, "kept")


def test_envoy_keeps_serving_while_the_controller_restarts(cluster: Cluster,
                                                           tmp_path: Path) -> None:
    cluster.install()
    xds_port, ops_port, listen_port, echo_port = (free_port() for _ in range(4))
    flags = ("--privileged-port-offset", str(listen_port - 80))
    controller, _ = cluster.controller("controller", *flags, xds_port=xds_port,
                                       ops_port=ops_port)
    cluster.apply_quickstart_gateway()
    wait_for("the proxy Deployment", lambda: exists(cluster, "deployment", NAME))
    cluster.play_load_balancer()
    cluster.play_kubelet()
    cluster.start_envoy(mount_proxy_files(cluster, tmp_path / "etc-propylon"), listen_port)
    cluster.serve_app(echo_port)
    wait_for("a response from the backend", lambda: http_get(listen_port, HOST)[0] == 200,
             timeout=90)

    results: list[int] = []
    stop = threading.Event()

    def requests() -> None:
        while not stop.is_set():
            try:
                results.append(http_get(listen_port, HOST)[0])
            except OSError:
                results.append(0)

    loop = threading.Thread(target=requests)
    loop.start()
    try:
        controller.send_signal(signal.SIGKILL)
        controller.wait()
        served_while_down = len(results)
        cluster.controller("controller-2", *flags, xds_port=xds_port, ops_port=ops_port)
        wait_for("Envoy back on the new controller's xDS", lambda: 'propylon_xds_acks_total{node='
                 '"default/api-gateway"' in urllib.request.urlopen(
                     f"http://127.0.0.1:{ops_port}/metrics", timeout=5).read().decode())
        assert len(results) > served_while_down
    finally:
        stop.set()
        loop.join()
    assert results and set(results) == {200}, f"{results.count(200)} of {len(results)} were 200"
