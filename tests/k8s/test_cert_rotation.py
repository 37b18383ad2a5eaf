"""Certificate rotation reaches a running Envoy without a restart.

The xDS CA Secret is deleted under a running controller (`--cert-check-interval` short): the
controller makes a new CA, re-issues its server certificate and the Gateway's client
certificate. The test plays the kubelet, swapping the Secret's files in the mounted directory
atomically, then restarts the controller so that Envoy must open a new xDS connection: it can
only succeed if Envoy took the new client certificate and CA from the swapped files (the old
ones do not verify against the new CA either way). Requests keep being served.
"""

from __future__ import annotations

import base64
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import HOST, NAME, Cluster, free_port, http_get, mount_proxy_files

pytestmark = pytest.mark.e2e


def acked(ops: str) -> bool:
    text = urllib.request.urlopen(ops + "/metrics", timeout=5).read().decode()
    return 'propylon_xds_acks_total{node="default/api-gateway"' in text


def test_a_rotated_ca_reaches_envoy_through_the_mounted_files(cluster: Cluster,
                                                              tmp_path: Path) -> None:
    cluster.install()
    xds_port, ops_port, listen_port, echo_port = (free_port() for _ in range(4))
    flags = ("--privileged-port-offset", str(listen_port - 80), "--cert-check-interval", "0.5")
    controller, ops = cluster.controller("controller", *flags, xds_port=xds_port,
                                         ops_port=ops_port)
    cluster.apply_quickstart_gateway()
    wait_for("the proxy Deployment", lambda: cluster.get("deployment", NAME))
    cluster.play_load_balancer()
    root = tmp_path / "etc-propylon"
    cluster.start_envoy(mount_proxy_files(cluster, root), listen_port)
    cluster.serve_app(echo_port)
    wait_for("a response from the backend", lambda: http_get(listen_port, HOST)[0] == 200,
             timeout=90)
    old_ca = cluster.get("secret", "propylon-xds-ca", "-n", "propylon-system")["data"]["tls.crt"]
    old_client = cluster.get("secret", f"{NAME}-xds")["data"]["tls.crt"]

    cluster.kubectl("delete", "secret", "propylon-xds-ca", "-n", "propylon-system")
    new_ca = wait_for("a new CA", lambda: (lambda ca: ca if ca != old_ca else None)(
        cluster.get("secret", "propylon-xds-ca", "-n", "propylon-system")["data"]["tls.crt"]))
    wait_for("the client certificate re-issued", lambda: cluster.get(
        "secret", f"{NAME}-xds")["data"]["ca.crt"] == new_ca)
    assert cluster.get("secret", f"{NAME}-xds")["data"]["tls.crt"] != old_client
    mount_proxy_files(cluster, root)  # the kubelet updates the mounted Secret
    assert base64.b64decode(new_ca) in (root / "xds-tls" / "ca.crt").read_bytes()

    controller.send_signal(signal.SIGKILL)
    controller.wait()
    cluster.controller("controller-2", *flags, xds_port=xds_port, ops_port=ops_port)
    wait_for("Envoy on the new controller with the rotated certificates", lambda: acked(ops))
    assert http_get(listen_port, HOST)[0] == 200
