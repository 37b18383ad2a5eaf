"""An Ingress with ingress-nginx's `auth-tls-*` annotations, applied with kubectl, is served by
real Envoy checking client certificates on its host's HTTPS listener (issue 14).

Real `propylon up --ingress-class-nginx`, real kubectl, real Envoy, the echo backend: with
`auth-tls-secret` (a CA Secret of another namespace) and `auth-tls-pass-certificate-to-upstream`,
a client presenting a certificate signed by that CA is served and the backend receives it
URL-encoded in header ssl-client-cert, with ssl-client-verify, ssl-client-subject-dn and
ssl-client-issuer-dn as nginx sets them (a client's own values of these headers are replaced);
a client without one, or with one of another CA, is refused in the TLS handshake.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from propylon.conformance.tlsmaterial import issue, tls_secret

from .conftest import Standalone, wait_for
from .test_client_mtls import _files, _get_response
from .test_envoy_refusals import _apply, _backend, _free_port, _own_address

pytestmark = pytest.mark.e2e

HOST = "mtls.example"
PORT = 443 if os.geteuid() == 0 else 10443  # the host infrastructure's privileged port offset


def _ingress() -> dict[str, Any]:
    prefix = "nginx.ingress.kubernetes.io/"
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default", "annotations": {
                prefix + "auth-tls-secret": "cas/client-ca",
                prefix + "auth-tls-verify-client": "on",
                prefix + "auth-tls-pass-certificate-to-upstream": "true"}},
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": [HOST], "secretName": "server"}],
                     "rules": [{"host": HOST, "http": {"paths": [
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "echo", "port": {"number": 80}}}}]}}]}}


def test_ingress_client_certificates(standalone: Standalone, tmp_path: Path) -> None:
    address, echo_port = _own_address((80, 443, 10080, 10443)), _free_port()
    standalone.start("--address-pool", f"{address}-{address}", "--echo", f"127.0.0.1:{echo_port}",
                     "--ingress-class-nginx")
    server_ca = issue("server-ca", ca=True)
    client_ca, other_ca = issue("client-ca", ca=True), issue("other-ca", ca=True)
    client = issue("alice", ("alice.example",), client_ca, client=True)
    trusted = _files(tmp_path, "good", client)
    stranger = _files(tmp_path, "bad", issue("mallory", (), other_ca, client=True))
    ca_file = tmp_path / "server-ca.crt"
    ca_file.write_bytes(server_ca.cert_pem)
    service_and_slice = [o for o in _backend(echo_port) if o["kind"] != "GatewayClass"]
    standalone.kubectl("create", "namespace", "cas")
    _apply(standalone, *service_and_slice,
           tls_secret("default", "server", issue(HOST, (HOST,), server_ca)),
           {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "client-ca", "namespace": "cas"},
            "data": {"ca.crt": base64.b64encode(client_ca.cert_pem).decode()}},
           _ingress())

    spoofed = {"ssl-client-verify": "FAILED:spoofed", "ssl-client-subject-dn": "CN=admin",
               "ssl-client-issuer-dn": "CN=spoofed", "ssl-client-cert": "spoofed"}
    answer = wait_for("the host served to a trusted client", lambda: (
        r := _get_response(address, PORT, HOST, ca_file, trusted, spoofed)) and r[0] == 200 and r)
    headers = {k.lower(): v for k, v in json.loads(answer[1])["headers"].items()}
    assert headers["ssl-client-verify"] == ["SUCCESS"]
    [subject], [issuer] = headers["ssl-client-subject-dn"], headers["ssl-client-issuer-dn"]
    assert subject.startswith("CN=alice,") and issuer.startswith("CN=client-ca,")
    (forwarded,) = headers["ssl-client-cert"]
    assert unquote(forwarded).strip() == client.cert_pem.decode().strip()
    assert _get_response(address, PORT, HOST, ca_file, None) is None
    assert _get_response(address, PORT, HOST, ca_file, stranger) is None
