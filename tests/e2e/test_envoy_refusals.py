"""What Envoy would refuse never reaches it, and status says so (issue findings 2 and 3).

Real `propylon up` on its own loopback address and ports, real kubectl, real Envoy:

- an HTTPRoute rule with a regex RE2 refuses (`/(?<=bar)x`) is dropped with PartiallyInvalid
  naming the field and RE2's error; the route's other rule is served, and a route added later on
  the same hostname (a `/new` redirect) is served too. Before, Envoy refused the whole virtual
  host and every later change on that hostname was silently not served.
- a kubernetes.io/tls Secret whose key does not match its certificate makes its listener
  ResolvedRefs False (InvalidCertificateRef) and Programmed False with a message naming the
  Secret and tls.key, while the Gateway's other HTTPS listener keeps serving; once the Secret
  is fixed, the listener serves.
"""

from __future__ import annotations

import base64
import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_walkthrough import http_get, https_get, make_cert

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
HOST = "app.yourdomain.com"  # make_cert's name
# Gateway default/gw with one HTTP listener on 8080, of the tests of this folder that use `stack`
GATEWAY = {"apiVersion": API, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
           "spec": {"gatewayClassName": "propylon",
                    "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _own_address(ports: tuple[int, ...]) -> str:
    """A loopback address (outside the default pool) on which `ports` are free right now."""
    for _ in range(100):
        address = f"127.{random.randint(100, 199)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind((address, port))
        except OSError:
            continue
        return address
    raise AssertionError("no free loopback address found")


@pytest.fixture
def stack(standalone: Standalone) -> Iterator[tuple[Standalone, str, int]]:
    """`propylon up` with an address pool of one address of its own and an echo backend on a
    free port; yields it, the address and the echo port."""
    address, echo_port = _own_address((8080, 8443, 9443)), _free_port()
    standalone.start("--address-pool", f"{address}-{address}", "--echo", f"127.0.0.1:{echo_port}")
    yield standalone, address, echo_port


def _apply(sa: Standalone, *objects: dict[str, Any]) -> None:
    sa.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))


def _backend(echo_port: int) -> list[dict[str, Any]]:
    return [
        {"apiVersion": API, "kind": "GatewayClass", "metadata": {"name": "propylon"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "default"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": echo_port}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "echo-local", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": "echo"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": echo_port, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]},
    ]


def _route(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST], "rules": rules}}


def _to_echo(match: dict[str, Any]) -> dict[str, Any]:
    return {"matches": [match], "backendRefs": [{"name": "echo", "port": 80}]}


def _parent_conditions(sa: Standalone, kind: str, name: str) -> dict[str, dict[str, Any]]:
    parents = sa.get_json(kind, name).get("status", {}).get("parents") or [{}]
    return {c["type"]: c for c in parents[0].get("conditions") or ()}


def _listener_conditions(sa: Standalone, listener: str) -> dict[str, dict[str, Any]]:
    gw = sa.get_json("gateway", "gw")
    found = [li for li in gw.get("status", {}).get("listeners") or () if li["name"] == listener]
    return {c["type"]: c for c in found[0]["conditions"]} if found else {}


def test_refused_regex_costs_only_its_rule(stack: tuple[Standalone, str, int]) -> None:
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port),
           GATEWAY,
           _route("app", [_to_echo({"path": {"type": "PathPrefix", "value": "/"}})]))
    wait_for("the app served", lambda: http_get(address, 8080, HOST)[0] == 200)

    _apply(sa, _route("bad", [
        _to_echo({"path": {"type": "PathPrefix", "value": "/kept"}}),
        _to_echo({"path": {"type": "RegularExpression", "value": "/(?<=bar)x"}})]))
    partial = wait_for("the bad rule reported", lambda: _parent_conditions(
        sa, "httproute", "bad").get("PartiallyInvalid"))
    assert (partial["status"], partial["reason"]) == ("True", "UnsupportedValue")
    assert "spec.rules[1].matches[0].path.value" in partial["message"]
    assert "invalid perl operator: (?<=" in partial["message"]
    assert _parent_conditions(sa, "httproute", "bad")["Accepted"]["status"] == "True"

    _apply(sa, _route("redirect", [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/new"}}],
        "filters": [{"type": "RequestRedirect",
                     "requestRedirect": {"hostname": "moved.example", "statusCode": 302}}]}]))
    wait_for("the later /new redirect on the same hostname served",
             lambda: http_get(address, 8080, HOST, "/new")[0] == 302)
    assert http_get(address, 8080, HOST, "/kept")[0] == 200
    assert http_get(address, 8080, HOST, "/")[0] == 200


def _tls_secret(name: str, cert: bytes, key: bytes) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(cert).decode(),
                     "tls.key": base64.b64encode(key).decode()}}


def _https(name: str, port: int, hostname: str, secret: str) -> dict[str, Any]:
    return {"name": name, "protocol": "HTTPS", "port": port, "hostname": hostname,
            "tls": {"mode": "Terminate", "certificateRefs": [{"name": secret}]}}


def test_mismatched_key_fails_only_its_listener(stack: tuple[Standalone, str, int],
                                                tmp_path: Path) -> None:
    sa, address, echo_port = stack
    cert, key, der = make_cert(tmp_path, "good")
    other_cert, other_key, _ = make_cert(tmp_path, "other")
    _apply(sa, *_backend(echo_port),
           _tls_secret("good", cert.read_bytes(), key.read_bytes()),
           _tls_secret("bad", cert.read_bytes(), other_key.read_bytes()),
           {"apiVersion": API, "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"},
            "spec": {"gatewayClassName": "propylon",
                     "listeners": [_https("good", 8443, HOST, "good"),
                                   _https("bad", 9443, HOST, "bad")]}},
           _route("app", [_to_echo({"path": {"type": "PathPrefix", "value": "/"}})]))
    wait_for("the good listener serving HTTPS",
             lambda: https_get(address, 8443, HOST, cert)[::2] == (200, der))
    refs = wait_for("the bad listener reported", lambda: (
        c := _listener_conditions(sa, "bad").get("ResolvedRefs")) and c["status"] == "False" and c)
    assert refs["reason"] == "InvalidCertificateRef"
    assert 'Secret "default/bad"' in refs["message"]
    assert "private key in tls.key does not match the certificate in tls.crt" in refs["message"]
    assert _listener_conditions(sa, "bad")["Programmed"]["status"] == "False"
    good = _listener_conditions(sa, "good")
    assert (good["ResolvedRefs"]["status"], good["Programmed"]["status"]) == ("True", "True")
    assert https_get(address, 8443, HOST, cert)[::2] == (200, der)

    _apply(sa, _tls_secret("bad", other_cert.read_bytes(), other_key.read_bytes()))
    wait_for("the fixed listener serving HTTPS", lambda: https_get(
        address, 9443, HOST, other_cert)[0] == 200)
    assert _listener_conditions(sa, "bad")["Programmed"]["status"] == "True"
