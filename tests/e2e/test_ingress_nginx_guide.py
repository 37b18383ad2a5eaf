"""The README's "Migrating a real app" guide, replayed both ways with its manifests
(`examples/ingress-nginx-app/`), real `propylon up`, real kubectl and real Envoy.

Both ways start from the same cluster state: the app's Services (their endpoints three
`propylon echo` processes named web, web-canary and api), ingress-nginx's ConfigMap, the
Secrets made as the guide makes them (`kubectl create secret tls`, `kubectl create secret
generic --from-file=auth` of an `htpasswd -B` file) and the Ingress objects of class nginx.
- served: `propylon up --ingress-class-nginx --ingress-configmap ...` serves them as they are;
- migrated: a stack that does not take class nginx; the objects exported with `kubectl get -o
  yaml`, converted by `propylon migrate -f ... -o DIR`, the output applied, then the Ingresses
  deleted (the cut-over), and the gateway keeps serving.
Either way the app behaves as the guide promises: plain HTTP redirected to https (308), the
certificate of shop.example.com, `/` to web with 20% (and `X-Canary: always`) to the canary,
`/api/<x>` reaching api as `/<x>` with the 11th request of a client address in a minute
answered 429, `/admin` answering 401 without the password and 200 with it, other hosts 404.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.certificates import cert_pem, certificate, key_pem

from .conftest import BIN, REPO, Standalone, wait_for
from .test_envoy_refusals import _free_port, _own_address
from .test_ingress_policies import _accepted
from .test_walkthrough import served_port

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "ingress-nginx-app"
HOST = "shop.example.com"
PASSWORD = "correct horse"
LOCAL_PORTS = {"web": 9101, "web-canary": 9102, "api": 9103}  # local-endpoints.yaml's
CONFIGMAP = "ingress-nginx/ingress-nginx-controller"


@pytest.fixture
def echoes() -> Iterator[dict[str, int]]:
    """One `propylon echo` per Service of the app, on free ports."""
    ports = {name: _free_port() for name in LOCAL_PORTS}
    procs = [subprocess.Popen([str(BIN / "propylon"), "echo", "--listen", f"127.0.0.1:{port}",
                               "--service", f"default/{name}"], start_new_session=True)
             for name, port in ports.items()]
    yield ports
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _cluster(sa: Standalone, tmp: Path, ports: dict[str, int]) -> Path:
    """The app as it runs under ingress-nginx; returns the CA file that trusts shop-tls."""
    endpoints = (EXAMPLE / "local-endpoints.yaml").read_text()
    for name, port in LOCAL_PORTS.items():
        assert f"  port: {port}\n" in endpoints
        endpoints = endpoints.replace(f"  port: {port}\n", f"  port: {ports[name]}\n")
    sa.kubectl("apply", "-f", str(EXAMPLE / "app.yaml"))
    sa.kubectl("apply", "-f", "-", input=endpoints)
    sa.kubectl("apply", "-f", str(EXAMPLE / "ingress-nginx-configmap.yaml"))
    key = ec.generate_private_key(ec.SECP256R1())
    cert, key_file = tmp / "shop.crt", tmp / "shop.key"
    cert.write_text(cert_pem(certificate(key, HOST, hosts=(HOST,), ca=True)))
    key_file.write_text(key_pem(key))
    sa.kubectl("create", "secret", "tls", "shop-tls", f"--cert={cert}", f"--key={key_file}")
    line = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    (tmp / "auth").write_text(f"admin:{line}\n")  # what `htpasswd -c -B auth admin` writes
    sa.kubectl("create", "secret", "generic", "shop-basic-auth", f"--from-file={tmp / 'auth'}")
    sa.kubectl("apply", "-f", str(EXAMPLE / "ingress.yaml"))
    return cert


def _request(address: str, path: str, headers: dict[str, str] | None = None, *,
             cafile: Path | None, host: str = HOST, source: str = "127.0.0.1"
             ) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a new connection from `source`: HTTPS with SNI `host` when `cafile`
    is given, else plain HTTP."""
    port = served_port(443 if cafile else 80)
    raw = socket.create_connection((address, port), timeout=10, source_address=(source, 0))
    sock = ssl.create_default_context(cafile=str(cafile)).wrap_socket(
        raw, server_hostname=host) if cafile else raw
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host, "Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def _echoed(response: tuple[int, http.client.HTTPMessage, bytes]) -> tuple[int, str, str]:
    """(status, the Service that answered, the path it received)."""
    status, _, body = response
    if status != 200:
        return status, "", ""
    reply = json.loads(body)
    return status, reply["service"], reply["path"]


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _behaves_as_promised(address: str, cafile: Path) -> None:
    def get(path: str, headers: dict[str, str] | None = None,
            source: str = "127.0.0.1") -> tuple[int, str, str]:
        return _echoed(_request(address, path, headers, cafile=cafile, source=source))

    # TLS and the https redirect
    wait_for("/ served over https", lambda: get("/")[0] == 200)
    status, headers, _ = _request(address, "/shoes?size=42", cafile=None)
    assert (status, headers["Location"]) == (308, f"https://{HOST}/shoes?size=42")
    assert _request(address, "/", cafile=None, host="other.example")[0] == 404

    # canary: by header, then by weight (20 of 100)
    assert get("/", {"X-Canary": "always"})[1] == "web-canary"
    assert get("/", {"X-Canary": "never"})[1] == "web"
    served = [get("/")[1] for _ in range(200)]
    assert set(served) == {"web", "web-canary"}
    assert 0.08 <= served.count("web-canary") / len(served) <= 0.35, served.count("web-canary")

    # basic auth
    wait_for("/admin behind basic auth", lambda: get("/admin")[0] == 401)
    assert get("/admin", _basic("admin", "wrong"))[0] == 401
    assert get("/admin/orders", _basic("admin", PASSWORD)) == (200, "web", "/admin/orders")

    # rewrite and rate limit: once the limit is seen from one client address, another address
    # gets exactly limit-rpm (10) answers, then 429 (the ConfigMap's limit-req-status-code)
    wait_for("the rate limit applied", lambda: get("/api/items")[0] == 429)
    fresh = [get(f"/api/items/{n}", source="127.0.0.2") for n in range(11)]
    assert fresh[:10] == [(200, "api", f"/items/{n}") for n in range(10)]
    assert fresh[10][0] == 429


def _ingress_address(sa: Standalone) -> str:
    status = sa.get_json("ingress", "shop").get("status") or {}
    return "".join(i.get("ip", "") for i in (status.get("loadBalancer") or {}).get("ingress") or [])


def test_switching_the_controller_keeps_the_ingress_objects(
        standalone: Standalone, echoes: dict[str, int], tmp_path: Path) -> None:
    address = _own_address((80, 443, 10080, 10443))
    standalone.start("--address-pool", f"{address}-{address}", "--ingress-class-nginx",
                     "--ingress-configmap", CONFIGMAP)
    cafile = _cluster(standalone, tmp_path, echoes)
    assert wait_for("the Ingress status to name the address",
                    lambda: _ingress_address(standalone)) == address
    _behaves_as_promised(address, cafile)


def test_migrating_to_gateway_api_and_cutting_over(
        standalone: Standalone, echoes: dict[str, int], tmp_path: Path) -> None:
    sa = standalone
    address = _own_address((80, 443, 10080, 10443))
    sa.start("--address-pool", f"{address}-{address}")
    cafile = _cluster(sa, tmp_path, echoes)
    current, gateway = tmp_path / "current", tmp_path / "gateway"
    current.mkdir()
    (current / "default.yaml").write_text(
        sa.kubectl("get", "ingress,service,secret", "-n", "default", "-o", "yaml").stdout)
    (current / "configmap.yaml").write_text(
        sa.kubectl("get", "configmap", "-n", "ingress-nginx", "ingress-nginx-controller",
                   "-o", "yaml").stdout)
    subprocess.run([str(BIN / "propylon"), "migrate", "-f", str(current), "-o", str(gateway)],
                   check=True, capture_output=True, timeout=60)
    report = (gateway / "REPORT.md").read_text()
    assert "0 refused" in report and "limit-req-status-code (429)" in report
    assert (gateway / "secret-default-shop-admin-basic-auth.yaml").stat().st_mode & 0o077 == 0
    sa.kubectl("apply", "-f", str(REPO / "examples" / "quickstart" / "gatewayclass.yaml"))
    sa.kubectl("apply", "-f", str(gateway))
    sa.kubectl("wait", "--for=condition=Programmed", "gateway/ingress-nginx", "--timeout=60s")
    for kind, name in (("securitypolicy", "shop-admin"), ("backendtrafficpolicy", "shop-api")):
        wait_for(f"{kind} {name} accepted", functools.partial(_accepted, sa, kind, name))
    gateway_address = sa.get_json("gateway", "ingress-nginx")["status"]["addresses"][0]["value"]
    assert gateway_address == address
    _behaves_as_promised(address, cafile)

    sa.kubectl("delete", "ingress", "shop", "shop-canary", "shop-api", "shop-admin")
    assert _echoed(_request(address, "/admin/x", _basic("admin", PASSWORD), cafile=cafile)) == \
        (200, "web", "/admin/x")
