"""Certificate rotation reaches a running Envoy without a restart.

The xDS CA Secret is deleted under a running controller (`--cert-check-interval` short): the
controller makes a new CA, re-issues its server certificate and writes the new bundle into the
Gateway's ConfigMap. The test plays the kubelet, swapping the ConfigMap's files in the mounted
directory atomically; the pod's xDS agent sees the bundle change and fetches a client
certificate signed by the new CA into Envoy's directory. Then the controller restarts so that
Envoy must open a new xDS connection: it can only succeed if Envoy took the new client
certificate and CA from the agent's files (the old ones do not verify against the new CA either
way). Requests keep being served.
"""

from __future__ import annotations

import base64
import signal
import urllib.request
from pathlib import Path

import pytest

from propylon import pki
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
    old_client = (root / "xds-tls" / "tls.crt").read_bytes()

    cluster.kubectl("delete", "secret", "propylon-xds-ca", "-n", "propylon-system")
    new_ca = base64.b64decode(wait_for("a new CA", lambda: (
        lambda ca: ca if ca != old_ca else None)(cluster.get(
            "secret", "propylon-xds-ca", "-n", "propylon-system")["data"]["tls.crt"])))
    wait_for("the new bundle in the proxies' ConfigMap", lambda: new_ca.decode().strip()
             in cluster.get("configmap", NAME)["data"]["ca.crt"])
    mount_proxy_files(cluster, root)  # the kubelet updates the mounted ConfigMap
    wait_for("the agent's certificate signed by the new CA", lambda: pki.signed_by(
        (root / "xds-tls" / "tls.crt").read_bytes(), new_ca))
    assert (root / "xds-tls" / "tls.crt").read_bytes() != old_client
    assert new_ca.strip() in (root / "xds-tls" / "ca.crt").read_bytes()

    controller.send_signal(signal.SIGKILL)
    controller.wait()
    cluster.controller("controller-2", *flags, xds_port=xds_port, ops_port=ops_port)
    wait_for("Envoy on the new controller with the rotated certificates", lambda: acked(ops))
    assert http_get(listen_port, HOST)[0] == 200
