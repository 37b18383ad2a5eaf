"""Two HTTPS listeners on one port, each with its own ClientTrafficPolicy, applied with kubectl:
real Envoy serves each listener (its own SNI filter chain) with its own policy's connection
manager settings (`headers.earlyRequestHeaders`), not the first listener's, and both policies
say Accepted True.

Real `propylon up`, real kubectl, real Envoy, the echo backend, real TLS handshakes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from propylon.conformance.tlsmaterial import issue, tls_secret

from .conftest import Standalone, wait_for
from .test_client_mtls import _accepted, _get_response
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
PORT = 8443
HOSTS = {"first": "first.example", "second": "second.example"}


def _objects() -> list[dict[str, Any]]:
    def policy(section: str) -> dict[str, Any]:
        return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "ClientTrafficPolicy",
                "metadata": {"name": section, "namespace": "default"},
                "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                         "name": "gw", "sectionName": section}],
                         "headers": {"earlyRequestHeaders": {
                             "set": [{"name": "x-listener-policy", "value": section}]}}}}

    listeners = [{"name": name, "protocol": "HTTPS", "port": PORT, "hostname": host,
                  "tls": {"certificateRefs": [{"name": "server"}]}}
                 for name, host in HOSTS.items()]
    return [
        {"apiVersion": API, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
         "spec": {"gatewayClassName": "propylon", "listeners": listeners}},
        {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": list(HOSTS.values()),
                  "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]}},
        policy("first"), policy("second"),
    ]


def test_each_https_listener_of_a_port_has_its_own_policy(
        stack: tuple[Standalone, str, int], tmp_path: Path) -> None:  # noqa: F811
    sa, address, echo_port = stack
    server_ca = issue("server-ca", ca=True)
    server = issue("first.example", tuple(HOSTS.values()), server_ca)
    ca_file = tmp_path / "server-ca.crt"
    ca_file.write_bytes(server_ca.cert_pem)
    _apply(sa, *_backend(echo_port), tls_secret("default", "server", server), *_objects())

    def policy_header(host: str) -> list[str] | None:
        answer = _get_response(address, PORT, host, ca_file, None)
        if answer is None or answer[0] != 200:
            return None
        headers = {k.lower(): v for k, v in json.loads(answer[1])["headers"].items()}
        return list(headers.get("x-listener-policy") or [])

    for name, host in HOSTS.items():
        wait_for(f"listener {name} serving with its policy's header",
                 lambda host=host, name=name: policy_header(host) == [name])
    for name in HOSTS:
        accepted = wait_for(f"policy {name}'s status", lambda name=name: _accepted(sa, name))
        assert accepted["status"] == "True", accepted
