"""ClientTrafficPolicy `tls.clientValidation`, applied with kubectl, makes real Envoy check
client certificates (issue 13).

Real `propylon up`, real kubectl, real Envoy, the echo backend, real TLS handshakes:
- on the listener whose policy names a CA ConfigMap, a client certificate signed by that CA
  gets 200, and the backend gets it in X-Forwarded-Client-Cert (`headers.xForwardedClientCert`
  SanitizeSet with Cert and URI); no certificate, or one signed by another CA, is refused in the handshake;
- on the listener whose policy is `optional` and names an Opaque Secret's CA, no certificate
  gets 200, the right one 200, another CA's is refused;
- a policy edited to name a ConfigMap without `ca.crt` is Accepted False naming the ref, and
  its listener keeps the last good validation; a new policy that never was usable makes its
  listener refuse every client certificate (never serve without the check).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from propylon.conformance.tlsmaterial import KeyPair, ca_configmap, issue, tls_secret

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
HOST = "mtls.example"
STRICT, OPTIONAL = 8443, 9443


def _objects(server: KeyPair, ca: KeyPair, strict_ca: str = "client-ca") -> list[dict[str, Any]]:
    def listener(name: str, port: int) -> dict[str, Any]:
        return {"name": name, "protocol": "HTTPS", "port": port, "hostname": HOST,
                "tls": {"certificateRefs": [{"name": "server"}]}}

    def policy(name: str, section: str, validation: dict[str, Any],
               **more: Any) -> dict[str, Any]:
        return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "ClientTrafficPolicy",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                         "name": "gw", "sectionName": section}],
                         "tls": {"clientValidation": validation}, **more}}

    return [
        tls_secret("default", "server", server),
        ca_configmap("default", "client-ca", ca),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "no-ca", "namespace": "default"}, "data": {"other": "x"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "client-ca-secret", "namespace": "default"},
         "data": {"ca.crt": base64.b64encode(ca.cert_pem).decode()}},
        {"apiVersion": API, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
         "spec": {"gatewayClassName": "propylon",
                  "listeners": [listener("strict", STRICT), listener("optional", OPTIONAL)]}},
        {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST],
                  "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]}},
        policy("strict", "strict", {"caCertificateRefs": [{"kind": "ConfigMap",
                                                           "name": strict_ca}]},
               headers={"xForwardedClientCert": {"mode": "SanitizeSet",
                                                 "certDetailsToAdd": ["Cert", "URI"]}}),
        policy("optional", "optional", {"optional": True, "caCertificateRefs": [
            {"kind": "Secret", "name": "client-ca-secret"}]}),
    ]


def _get_response(address: str, port: int, host: str, server_ca: Path,
                  client: tuple[Path, Path] | None, headers: dict[str, str] | None = None,
                  ) -> tuple[int, bytes] | None:
    """The status and body of GET / over TLS with SNI `host` (and `headers`), or None when the
    handshake (or the first read, where TLS 1.3 reports a refused client certificate) fails."""
    context = ssl.create_default_context(cafile=str(server_ca))
    if client is not None:
        context.load_cert_chain(*client)
    try:
        with socket.create_connection((address, port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.sock = tls
            conn.request("GET", "/", headers={"Host": host, "Connection": "close", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read()
    except (ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected):
        return None


def _get(address: str, port: int, server_ca: Path, client: tuple[Path, Path] | None,
         ) -> int | str:
    """The status of GET / on HOST, or "refused" (`_get_response`)."""
    found = _get_response(address, port, HOST, server_ca, client)
    return "refused" if found is None else found[0]


def _files(tmp: Path, name: str, pair: KeyPair) -> tuple[Path, Path]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    return cert, key


def _accepted(sa: Standalone, name: str) -> dict[str, Any] | None:
    """The policy's Accepted condition for its current generation, if written yet."""
    obj = sa.get_json("clienttrafficpolicy", name, "-n", "default")
    for ancestor in (obj.get("status") or {}).get("ancestors") or ():
        for cond in ancestor.get("conditions") or ():
            if cond["type"] == "Accepted" and \
                    cond.get("observedGeneration") == obj["metadata"]["generation"]:
                return dict(cond)
    return None


def test_client_certificates_are_checked(stack: tuple[Standalone, str, int],  # noqa: F811
                                         tmp_path: Path) -> None:
    sa, address, echo_port = stack
    server_ca = issue("server-ca", ca=True)
    server = issue(HOST, (HOST,), server_ca)
    client_ca, other_ca = issue("client-ca", ca=True), issue("other-ca", ca=True)
    alice = issue("alice", ("spiffe://clients/alice",), client_ca, client=True)
    trusted = _files(tmp_path, "good", alice)
    stranger = _files(tmp_path, "bad", issue("mallory", ("m.example",), other_ca, client=True))
    (tmp_path / "server-ca.crt").write_bytes(server_ca.cert_pem)
    ca_file = tmp_path / "server-ca.crt"
    _apply(sa, *_backend(echo_port), *_objects(server, client_ca))

    wait_for("the strict listener serving a trusted client",
             lambda: _get(address, STRICT, ca_file, trusted) == 200)
    answer = _get_response(address, STRICT, HOST, ca_file, trusted)
    assert answer is not None
    echoed = {k.lower(): v for k, v in json.loads(answer[1])["headers"].items()}
    (xfcc,) = echoed["x-forwarded-client-cert"]  # set by Envoy (SanitizeSet), with the PEM
    assert "Hash=" in xfcc and "URI=spiffe://clients/alice" in xfcc
    assert unquote(xfcc.split('Cert="', 1)[1].split('"', 1)[0]).strip() == \
        alice.cert_pem.decode().strip()
    assert _get(address, STRICT, ca_file, None) == "refused"
    assert _get(address, STRICT, ca_file, stranger) == "refused"

    wait_for("the optional listener serving a client without certificate",
             lambda: _get(address, OPTIONAL, ca_file, None) == 200)
    assert _get(address, OPTIONAL, ca_file, trusted) == 200
    assert _get(address, OPTIONAL, ca_file, stranger) == "refused"
    assert (_accepted(sa, "strict") or {}).get("status") == "True"

    _apply(sa, *_objects(server, client_ca, strict_ca="no-ca"))
    refused = wait_for("the broken policy refused",
                       lambda: (c := _accepted(sa, "strict")) and c["status"] == "False" and c)
    assert "caCertificateRefs[0]: ConfigMap default/no-ca" in refused["message"]
    assert "ca.crt" in refused["message"]
    assert _get(address, STRICT, ca_file, trusted) == 200
    assert _get(address, STRICT, ca_file, None) == "refused"

    # a policy never usable: its listener refuses every client rather than skip the check
    sa.kubectl("delete", "clienttrafficpolicy", "strict", "-n", "default")
    wait_for("the strict listener without policy", lambda: _get(address, STRICT, ca_file, None)
             == 200)
    fresh = _objects(server, client_ca, strict_ca="no-ca")[-2]
    _apply(sa, {**fresh, "metadata": {"name": "fresh", "namespace": "default"}})
    wait_for("every client refused", lambda: _get(address, STRICT, ca_file, trusted) == "refused"
             and _get(address, STRICT, ca_file, None) == "refused")
    assert (_accepted(sa, "fresh") or {}).get("status") == "False"
    assert _get(address, OPTIONAL, ca_file, None) == 200
