"""Kubernetes mode end to end, with no cluster: the embedded API server plays the cluster.

The API server starts with core kinds only and the upstream Gateway API v1.6.1 CRDs are applied
with kubectl; `propylon controller` runs as a process against it; the walkthrough is applied
with kubectl. The test checks the Deployment, Service, ConfigMap and ServiceAccount the
controller creates, plays the load balancer and the kubelet (writing the Service's
`status.loadBalancer` and the Deployment's `status.readyReplicas`), sees ADDRESS and PROGRAMMED,
then runs Envoy here with exactly the bootstrap from the ConfigMap (the controller is told to
advertise its xDS address as 127.0.0.1 and to bind listeners on 127.0.0.1) written where the
Deployment mounts it (only the `/etc/propylon` prefix is moved into the test's directory), and
the pod's xDS agent, which obtains the Gateway's client certificate from the controller with a
projected token of the Gateway's ServiceAccount (TokenRequest, checked by TokenReview), points the EndpointSlice at a local
echo backend and sends requests through it. xDS is mutual TLS: an Envoy announcing another
Gateway's node id with this certificate is refused.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, wait_for
from tests.k8s.conftest import (
    CRDS,
    HOST,
    NAME,
    NAMESPACE,
    Cluster,
    condition,
    free_port,
    http_get,
    mount_proxy_files,
)

pytestmark = pytest.mark.e2e


def test_walkthrough_on_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    out = cluster.kubectl("apply", "-f", str(CRDS))
    assert "gateways.gateway.networking.k8s.io created" in out
    cluster.kubectl("apply", "-f", "-", stdin=NAMESPACE)

    xds_port, ops_port, listen_port, echo_port = (free_port() for _ in range(4))
    offset = listen_port - 80  # the walkthrough's port 80 is served on listen_port in the pod
    cluster.spawn("controller", str(BIN / "propylon"), "controller",
                  "--kubeconfig", str(cluster.kubeconfig),
                  "--xds-listen", f"127.0.0.1:{xds_port}", "--xds-address", f"127.0.0.1:{xds_port}",
                  "--certificate-listen", f"127.0.0.1:{free_port()}",
                  "--ops-listen", f"127.0.0.1:{ops_port}", "--proxy-bind-address", "127.0.0.1",
                  "--privileged-port-offset", str(offset))
    ops = f"http://127.0.0.1:{ops_port}"
    wait_for("the controller to be ready",
             lambda: urllib.request.urlopen(ops + "/readyz", timeout=5).status == 200)

    cluster.apply_quickstart_gateway()
    wait_for("GatewayClass Accepted", lambda: condition(
        cluster.get("gatewayclass", "propylon"), "Accepted").get("status") == "True")

    # the proxy objects, owned by the Gateway
    gateway = wait_for("the proxy Deployment", lambda: cluster.get("deploy", NAME)
                       and cluster.get("gateway", "api-gateway"))
    uid = gateway["metadata"]["uid"]
    for kind in ("deployment", "service", "configmap", "serviceaccount"):
        obj = cluster.get(kind, NAME)
        [owner] = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Gateway", "api-gateway", uid)
    deployment = cluster.get("deployment", NAME)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("envoyproxy/envoy:")
    assert [p["containerPort"] for p in container["ports"]] == [listen_port, 19001, 19003]
    service = cluster.get("service", NAME)
    assert service["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, listen_port)]

    programmed = condition(cluster.get("gateway", "api-gateway"), "Programmed")
    assert programmed["status"] == "False"
    assert "load balancer" in programmed["message"]

    # play the load balancer and the kubelet
    cluster.play_load_balancer()
    cluster.play_kubelet()
    wait_for("Gateway Programmed", lambda: condition(
        cluster.get("gateway", "api-gateway"), "Programmed").get("status") == "True")
    table = cluster.kubectl("get", "gateway", "api-gateway").splitlines()
    assert table[1].split()[:4] == ["api-gateway", "propylon", "127.0.0.1", "True"]

    # the xDS certificates: CA and server in the controller's namespace; no Secret for the
    # proxies, whose ConfigMap carries the CA bundle their agent verifies the controller with
    ca = cluster.get("secret", "propylon-xds-ca", "-n", "propylon-system")
    assert cluster.get("secret", "propylon-xds-server", "-n", "propylon-system")["type"] \
        == "kubernetes.io/tls"
    assert cluster.get("secrets")["items"] == []
    assert cluster.get("configmap", NAME)["data"]["ca.crt"] == \
        base64.b64decode(ca["data"]["ca.crt"]).decode()

    # Envoy with exactly the ConfigMap's bootstrap, where the pod has it, and the certificate
    # the pod's xDS agent obtained with the ServiceAccount's token (Envoy connects with it)
    bootstrap_path = mount_proxy_files(cluster, tmp_path / "etc-propylon")
    bootstrap = json.loads(bootstrap_path.read_text())
    xds_cluster = bootstrap["static_resources"]["clusters"][0]
    assert xds_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"][
        "address"]["socket_address"] == {"address": "127.0.0.1", "port_value": xds_port}
    assert xds_cluster["transport_socket"]["name"] == "envoy.transport_sockets.tls"
    cluster.start_envoy(bootstrap_path, listen_port)

    # the app, its EndpointSlice pointing at a local echo backend
    cluster.serve_app(echo_port)

    status, body = wait_for("a response from the backend", lambda: (
        lambda r: r if r[0] == 200 else None)(http_get(listen_port, HOST)), timeout=90)
    assert json.loads(body)["host"] == HOST
    assert http_get(listen_port, "unknown.example")[0] == 404

    # the same certificate announcing another Gateway is refused
    impostor = dict(bootstrap, node={**bootstrap["node"], "id": "default/other-gateway"},
                    admin={"address": {"socket_address": {"address": "127.0.0.1",
                                                          "port_value": free_port()}}})
    (tmp_path / "impostor.json").write_text(json.dumps(impostor))
    cluster.spawn("impostor", str(BIN / "envoy"), "-c", str(tmp_path / "impostor.json"),
                  "--disable-hot-restart", "--base-id", str(listen_port + 1),
                  "--concurrency", "1")
    wait_for("the impostor refused", lambda: "xDS stream refused: node 'default/other-gateway' "
             "presented a certificate for Gateway 'default/api-gateway'"
             in (tmp_path / "controller.log").read_text())
    assert http_get(listen_port, HOST)[0] == 200

    metrics = urllib.request.urlopen(ops + "/metrics", timeout=5).read().decode()
    assert "propylon_reconciles_total" in metrics
    assert "propylon_leader 1" in metrics.splitlines()
    assert float(metrics.split("propylon_translation_seconds_count ")[1].split()[0]) >= 1
    assert 'propylon_xds_acks_total{node="default/api-gateway"' in metrics
