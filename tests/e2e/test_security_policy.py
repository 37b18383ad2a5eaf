"""SecurityPolicy jwt and authorization applied with kubectl change what real Envoy does.

Real `propylon up`, real kubectl, real Envoy, the echo backend, tokens signed here with a key
made for the test:
- `jwt` with the JWKS inline: a request without a token or with a token another key signed
  gets 401; a valid token is let through with its `name` claim copied into a header and the
  token itself still forwarded; a route of the same Gateway without the policy is untouched;
- `jwt` with the JWKS fetched from a Service (a file server the test runs), `optional`: no
  token passes, a valid token passes, a bad one gets 401;
- `jwt` with the JWKS fetched over https:// from a Service a BackendTLSPolicy verifies (a TLS
  file server with a certificate of a CA made for the test), and from a DNS name (`localhost`)
  the proxy resolves: tokens of the key served there pass;
- `authorization`: the first rule matching decides (header values, methods), else the default;
  a rule on the verified token's scopes (space-separated `scope`) and claims (nested, and a
  list holding a value) allows only tokens carrying all of them.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from propylon.conformance.tlsmaterial import issue

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
PORT = 8080


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwks(key: rsa.RSAPrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                                 "n": _b64(n), "e": _b64(e)}]})


def _token(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    signed = ".".join(_b64(json.dumps(part).encode())
                      for part in ({"alg": "RS256", "typ": "JWT"}, claims))
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(signature)}"


def _request(address: str, host: str, method: str = "GET",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Status and, from the echo backend, the headers it received (names lower-cased, each
    with its list of values)."""
    conn = http.client.HTTPConnection(address, PORT, timeout=10)
    try:
        conn.request(method, "/", headers={"Host": host, "Connection": "close",
                                           **(headers or {})})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return resp.status, {}
        echoed = json.loads(body)
        return resp.status, {k.lower(): v for k, v in (echoed.get("headers") or {}).items()}
    finally:
        conn.close()


def _route(name: str, host: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [host],
                     "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]}}


def _gateway(*routes: str) -> list[dict[str, Any]]:
    return [{"apiVersion": API, "kind": "Gateway",
             "metadata": {"name": "gw", "namespace": "default"},
             "spec": {"gatewayClassName": "propylon",
                      "listeners": [{"name": "http", "protocol": "HTTP", "port": PORT}]}},
            *(_route(name, f"{name}.example") for name in routes)]


def _policy(name: str, route: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                     "name": route}], **spec}}


def _file_server(directory: Path, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    """A running server of the files of `directory` on 127.0.0.1 (over TLS with `tls`)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[tuple[rsa.RSAPrivateKey, int]]:
    """A signing key, and the port of a file server answering /jwks.json with its JWKS."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "jwks.json").write_text(_jwks(key))
    server = _file_server(tmp_path)
    yield key, server.server_address[1]
    server.shutdown()
    server.server_close()


def _service(name: str, port: int, target: int) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": name, "namespace": "default"},
             "spec": {"ports": [{"port": port, "targetPort": target}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": f"{name}-local", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": [{"port": target, "protocol": "TCP"}],
             "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}]


def test_jwt_reaches_envoy(stack: tuple[Standalone, str, int],  # noqa: F811
                           keys: tuple[rsa.RSAPrivateKey, int]) -> None:
    sa, address, echo_port = stack
    key, jwks_port = keys
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = _token(key, {"sub": "1", "name": "Ada"})
    forged = _token(other, {"sub": "1", "name": "Ada"})
    _apply(sa, *_backend(echo_port), *_gateway("inline", "remote", "open"),
           {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "keys", "namespace": "default"},
            "spec": {"ports": [{"port": 80, "targetPort": jwks_port}]}},
           {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "keys-local", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "keys"}},
            "addressType": "IPv4", "ports": [{"port": jwks_port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]},
           _policy("inline", "inline", {"jwt": {"providers": [{
               "name": "test", "claimToHeaders": [{"claim": "name", "header": "x-name"}],
               "localJWKS": {"type": "Inline", "inline": _jwks(key)}}]}}),
           _policy("remote", "remote", {"jwt": {"optional": True, "providers": [{
               "name": "test",
               "remoteJWKS": {"uri": "http://keys.default/jwks.json"}}]}}))
    wait_for("the inline JWT route to ask for a token",
             lambda: _request(address, "inline.example")[0] == 401)
    status, headers = _request(address, "inline.example",
                               headers={"Authorization": f"Bearer {good}"})
    assert (status, headers["x-name"], headers["authorization"]) == (200, ["Ada"],
                                                                      [f"Bearer {good}"])
    assert _request(address, "inline.example",
                    headers={"Authorization": f"Bearer {forged}"})[0] == 401
    assert _request(address, "open.example")[0] == 200

    wait_for("the remote JWKS to verify a token", lambda: _request(
        address, "remote.example", headers={"Authorization": f"Bearer {good}"})[0] == 200)
    assert _request(address, "remote.example")[0] == 200  # optional
    assert _request(address, "remote.example",
                    headers={"Authorization": f"Bearer {forged}"})[0] == 401


def test_authorization_reaches_envoy(stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_gateway("authz", "open"),
           _policy("authz", "authz", {"authorization": {"defaultAction": "Deny", "rules": [
               {"action": "Deny", "principal": {"headers": [{"name": "x-user-id",
                                                             "values": ["mallory"]}]}},
               {"action": "Allow", "principal": {"headers": [{"name": "x-user-id",
                                                              "values": ["john", "mallory"]}]},
                "operation": {"methods": ["GET"]}}]}}))
    wait_for("the rules to deny a request without the header",
             lambda: _request(address, "authz.example")[0] == 403)
    assert _request(address, "authz.example", headers={"x-user-id": "john"})[0] == 200
    assert _request(address, "authz.example", "POST", {"x-user-id": "john"})[0] == 403
    assert _request(address, "authz.example", headers={"x-user-id": "mallory"})[0] == 403
    assert _request(address, "open.example")[0] == 200


def test_jwt_claims_authorize(stack: tuple[Standalone, str, int],  # noqa: F811
                              keys: tuple[rsa.RSAPrivateKey, int]) -> None:
    sa, address, echo_port = stack
    key, _ = keys
    _apply(sa, *_backend(echo_port), *_gateway("claims"),
           _policy("claims", "claims", {
               "jwt": {"providers": [{"name": "idp",
                                      "localJWKS": {"type": "Inline", "inline": _jwks(key)}}]},
               "authorization": {"defaultAction": "Deny", "rules": [{
                   "action": "Allow", "principal": {"jwt": {
                       "provider": "idp", "scopes": ["read", "write"],
                       "claims": [{"name": "user.team", "values": ["ops", "sre"]},
                                  {"name": "roles", "valueType": "StringArray",
                                   "values": ["admin"]}]}}}]}}))

    def status(claims: dict[str, Any]) -> int:
        return _request(address, "claims.example",
                        headers={"Authorization": f"Bearer {_token(key, claims)}"})[0]

    allowed = {"sub": "1", "scope": "write read other", "user": {"team": "sre"},
               "roles": ["viewer", "admin"]}
    wait_for("a token with the scopes and claims to be allowed", lambda: status(allowed) == 200)
    assert status({**allowed, "scope": "read"}) == 403  # a scope missing
    assert status({**allowed, "user": {"team": "dev"}}) == 403  # a claim of another value
    assert status({**allowed, "roles": ["viewer"]}) == 403  # the list without the value
    assert _request(address, "claims.example")[0] == 401  # no token: the JWT filter answers


def test_remote_jwks_over_https_and_dns(stack: tuple[Standalone, str, int],  # noqa: F811
                                        keys: tuple[rsa.RSAPrivateKey, int],
                                        tmp_path: Path) -> None:
    sa, address, echo_port = stack
    key, http_port = keys
    ca = issue("jwks-ca", ca=True)
    leaf = issue("keys.example.com", ("keys.example.com",), ca)
    served = tmp_path / "tls"
    served.mkdir()
    (served / "jwks.json").write_text(_jwks(key))
    (tmp_path / "tls.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(leaf.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server = _file_server(served, context)
    good = _token(key, {"sub": "1"})
    try:
        _apply(sa, *_backend(echo_port), *_gateway("https", "dns"),
               *_service("keys-tls", 443, server.server_address[1]),
               {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "jwks-ca", "namespace": "default"},
                "data": {"ca.crt": ca.cert_pem.decode()}},
               {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
                "metadata": {"name": "keys-tls", "namespace": "default"},
                "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "keys-tls"}],
                         "validation": {"hostname": "keys.example.com", "caCertificateRefs": [
                             {"group": "", "kind": "ConfigMap", "name": "jwks-ca"}]}}},
               _policy("https", "https", {"jwt": {"providers": [{
                   "name": "tls", "remoteJWKS": {"uri": "https://keys-tls.default/jwks.json"}}]}}),
               _policy("dns", "dns", {"jwt": {"providers": [{
                   "name": "dns", "remoteJWKS": {
                       "uri": f"http://localhost:{http_port}/jwks.json"}}]}}))
        for host in ("https.example", "dns.example"):
            wait_for(f"the JWKS of {host} to verify a token", lambda host=host: _request(
                address, host, headers={"Authorization": f"Bearer {good}"})[0] == 200)
            assert _request(address, host)[0] == 401
    finally:
        server.shutdown()
        server.server_close()
