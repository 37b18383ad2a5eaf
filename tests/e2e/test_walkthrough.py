"""The Gateway API getting-started walkthrough, end to end, as a user runs it.

Real `propylon up` (API server, controller, xDS, Envoy processes), real kubectl, real sockets:
GatewayClass accepted; Gateway gets a loopback address and Programmed; the app's HTTPRoute serves
`app.yourdomain.com` from a local echo backend and an unknown host gets 404 from the Gateway;
an HTTPS listener terminates TLS with the Secret's certificate, and replacing the Secret changes
the served certificate with no failed request; the control plane is SIGKILLed and started again
while requests keep succeeding; Ctrl-C stops every process it started.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from propylon.infra.host.envoy_process import pid_alive
from tests.certificates import cert_pem, certificate, key_pem

from .conftest import BIN, REPO, Standalone, wait_for
from .load import Load

pytestmark = pytest.mark.e2e

HOST = "app.yourdomain.com"
PRIVILEGED_OFFSET = 10000


def served_port(port: int) -> int:
    """Where a listener port is really served: as documented, ports below 1024 move up by the
    offset when the user cannot bind them."""
    if port < 1024 and os.geteuid() != 0:
        return port + PRIVILEGED_OFFSET
    return port


def http_get(address: str, port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def https_get(address: str, port: int, host: str, cafile: Path) -> tuple[int, bytes, bytes]:
    """GET over TLS with SNI `host`; returns status, body and the DER certificate served."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.sock = tls
            conn.request("GET", "/", headers={"Host": host, "Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read(), der


def make_cert(dir: Path, name: str) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for HOST; returns cert path, key path and its DER bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key, f"{HOST} {name}", hosts=(HOST,), ca=True)
    cert_path, key_path = dir / f"{name}.crt", dir / f"{name}.key"
    cert_path.write_text(cert_pem(cert))
    key_path.write_text(key_pem(key))
    return cert_path, key_path, cert.public_bytes(Encoding.DER)


def condition(obj: dict, type_: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == type_:
            return str(cond["status"])
    return None


def tls_secret_yaml(sa: Standalone, cert: Path, key: Path) -> str:
    """The documented way to replace a TLS Secret: kubectl create --dry-run=client | apply."""
    return sa.kubectl("create", "secret", "tls", "app-tls", f"--cert={cert}", f"--key={key}",
                      "--dry-run=client", "-o", "yaml").stdout


def test_walkthrough(standalone: Standalone, tmp_path: Path) -> None:
    sa = standalone
    quickstart = REPO / "examples" / "quickstart"

    # 1. propylon up
    sa.start()
    assert sa.kubeconfig.exists()

    # 2. GatewayClass
    sa.kubectl("apply", "-f", str(quickstart / "gatewayclass.yaml"))
    wait_for("GatewayClass accepted",
             lambda: condition(sa.get_json("gatewayclass", "propylon"), "Accepted") == "True")
    table = sa.kubectl("get", "gatewayclass").stdout
    assert table.split()[:4] == ["NAME", "CONTROLLER", "ACCEPTED", "AGE"]
    assert "propylon.dev/gateway-controller" in table and "True" in table

    # 3. Gateway: an address from the loopback pool, Programmed, an Envoy serving it
    sa.kubectl("apply", "-f", str(quickstart / "gateway.yaml"))
    gw = wait_for("Gateway programmed", lambda: (
        g := sa.get_json("gateway", "api-gateway")) and condition(g, "Programmed") == "True" and g)
    address = gw["status"]["addresses"][0]["value"]
    assert address.startswith("127.")
    rows = sa.kubectl("get", "gateway").stdout.splitlines()
    assert rows[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert rows[1].split()[:4] == ["api-gateway", "propylon", address, "True"]
    assert len(sa.envoy_pids()) == 1
    jsonpath_ip = sa.kubectl("get", "gateway", "api-gateway", "-o",
                             "jsonpath={.status.addresses[0].value}").stdout
    assert jsonpath_ip == address

    # 4. the app: a local echo backend behind Service backend-1
    echo = subprocess.Popen([str(BIN / "propylon"), "echo", "--listen", sa.echo_listen,
                             "--service", "backend-1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sa.kubectl("apply", "-f", "-", input=sa.app_manifest())
        port = served_port(80)

        # 5. curl by host; unknown host gets the Gateway's 404
        def app_ok() -> bool:
            status, body = http_get(address, port, HOST)
            return status == 200 and json.loads(body)["service"] == "backend-1"
        wait_for("route served by backend-1", app_ok)
        status, body = http_get(address, port, HOST, "/some/path")
        echoed = json.loads(body)
        assert (status, echoed["path"], echoed["host"], echoed["namespace"]) == (
            200, "/some/path", HOST, "default")
        assert http_get(address, port, "unknown.example")[0] == 404
        route = sa.get_json("httproute", "host-route")
        parent = route["status"]["parents"][0]
        assert {c["type"]: c["status"] for c in parent["conditions"]} == {
            "Accepted": "True", "ResolvedRefs": "True"}
        assert sa.kubectl("get", "httproute").stdout.split()[:3] == ["NAME", "HOSTNAMES", "AGE"]

        # 6. HTTPS with the Secret's certificate, SNI, then rotation under load
        cert1, key1, der1 = make_cert(tmp_path, "one")
        out = sa.kubectl("create", "secret", "tls", "app-tls", f"--cert={cert1}",
                         f"--key={key1}").stdout
        assert out == "secret/app-tls created\n"
        sa.kubectl("apply", "-f", str(REPO / "examples" / "https" / "gateway.yaml"))
        tls_port = served_port(443)
        wait_for("HTTPS served with the first certificate",
                 lambda: https_get(address, tls_port, HOST, cert1)[::2] == (200, der1))
        envoy_pid = sa.envoy_pids()[0]

        cert2, key2, der2 = make_cert(tmp_path, "two")
        both = tmp_path / "both.pem"
        both.write_bytes(cert1.read_bytes() + cert2.read_bytes())
        with Load(lambda: https_get(address, tls_port, HOST, both)[0]) as load:
            wait_for("some requests before rotation", lambda: load.ok >= 5)
            sa.kubectl("apply", "-f", "-", input=tls_secret_yaml(sa, cert2, key2))
            wait_for("the new certificate served",
                     lambda: https_get(address, tls_port, HOST, cert2)[::2] == (200, der2))
            wait_for("more requests after rotation", lambda: load.ok >= 20 or len(load.failures) > 5)
        assert load.failures == []
        assert sa.envoy_pids() == [envoy_pid], "rotation must not restart Envoy"

        # the control plane dies and comes back; Envoy keeps serving throughout
        with Load(lambda: http_get(address, port, HOST)[0]) as load:
            wait_for("requests flowing", lambda: load.ok >= 5)
            kubeconfig = sa.kubeconfig.read_text()
            sa.kill()
            before = load.ok
            wait_for("requests still served with the control plane down",
                     lambda: load.ok >= before + 20 or len(load.failures) > 5)
            sa.start()
            # the killed process's API server went with it: the restart got the same URL back
            assert sa.kubeconfig.read_text() == kubeconfig
            sa.kubectl("patch", "httproute", "host-route", "--type=merge", "-p",
                       json.dumps({"spec": {"hostnames": [HOST, "other.yourdomain.com"]}}))
            wait_for("a change applied after the restart reaches Envoy",
                     lambda: http_get(address, port, "other.yourdomain.com")[0] == 200)
        assert load.failures == []
        assert sa.envoy_pids() == [envoy_pid], "the restarted control plane adopts the running Envoy"
    finally:
        echo.terminate()
        echo.wait(timeout=10)

    # Ctrl-C stops everything propylon up started
    assert sa.interrupt() == 0
    for pid in sa.envoy_pids():
        wait_for(f"envoy {pid} gone", lambda pid=pid: not pid_alive(pid), timeout=30)
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=2).close()
    assert sa.kubectl("get", "ns", check=False).returncode != 0  # the API server stopped too


