"""Ingress annotations converted into policies change what real Envoy does, as ingress-nginx.

Real `propylon up`, real kubectl, real Envoy and the echo backend: the Ingresses are converted
(`propylon.ingress.convert`, as `propylon migrate` does) and only the output is applied.
- basic auth (`auth-type`, `auth-secret` holding an htpasswd line with a SHA-1 hash): no
  credentials and wrong ones get 401, the right ones reach the backend;
- `auth-secret` naming a Secret that does not exist: every request gets 503 with nginx's page;
- `enable-cors` with the default origin: `Access-Control-Allow-Origin: *` and the other CORS
  headers on every answer, even without Origin, and on basic auth's 401;
- `allowlist-source-range` without the client's address: 403; `denylist-source-range`
  without it: the request passes; with the ingress-nginx ConfigMap's `use-forwarded-headers`,
  the address is X-Forwarded-For's leftmost, as nginx's real IP module with its default
  `proxy-real-ip-cidr` finds it (a ClientTrafficPolicy of the Gateway);
- `limit-rpm`: the third request of a client address in a minute gets 503, another address
  still passes;
- `custom-headers`: the ConfigMap's entries on every answer, `$remote_addr` as written;
- `auth-url` (an address, reached through the Service and EndpointSlice the conversion makes):
  the service's 401 and its challenge reach the client, its 200 lets the request through with
  the `auth-response-headers` it named;
- `affinity: cookie`: the proxy issues the session cookie, named and with the attributes the
  `session-cookie-*` annotations give, a session cookie without `-max-age`;
- `proxy-body-size`: a larger body gets 413 from the gateway, a smaller one reaches the
  backend.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from propylon.ingress import MIGRATE, convert

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, _free_port, _own_address

pytestmark = pytest.mark.e2e

P = "nginx.ingress.kubernetes.io/"
BAR_SHA1 = "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00="  # the password "bar"


@pytest.fixture
def stack(standalone: Standalone) -> Iterator[tuple[Standalone, str, int]]:
    """`propylon up` with one address of its own (ports 80 and 443 free on it) and an echo
    backend on a free port."""
    address, echo_port = _own_address((80, 443)), _free_port()
    standalone.start("--address-pool", f"{address}-{address}", "--echo", f"127.0.0.1:{echo_port}")
    yield standalone, address, echo_port


def _ingress(host: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": host.split(".")[0], "namespace": "default",
                         "annotations": {P + k: v for k, v in annotations.items()}},
            "spec": {"rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "echo", "port": {"number": 80}}}}]}}]}}


def _get(address: str, host: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(address, 80, timeout=10)
    try:
        conn.request("GET" if body is None else "POST", "/", body=body,
                     headers={"Host": host, "Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class _AuthService(BaseHTTPRequestHandler):
    """httpbun's /basic-auth/<user>/<password>: 200 with X-Auth-User for those credentials,
    else 401 with a challenge."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
        _, _, user, password = self.path.split("/", 3)
        if self.headers.get("Authorization") == _basic(user, password)["Authorization"]:
            self.send_response(200)
            self.send_header("X-Auth-User", user)
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Fake Realm"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the hook's name
        return


@pytest.fixture
def auth_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _AuthService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    thread.join()


def _accepted(sa: Standalone, kind: str, name: str) -> bool:
    ancestors = sa.get_json(kind, name).get("status", {}).get("ancestors") or ()
    return bool(ancestors) and all(
        any(c["type"] == "Accepted" and c["status"] == "True" for c in a.get("conditions", ()))
        for a in ancestors)


def test_converted_policies_behave_as_ingress_nginx(stack: tuple[Standalone, str, int],
                                                   auth_port: int) -> None:
    sa, address, echo_port = stack
    inputs = [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "users", "namespace": "default"},
         "data": {"auth": base64.b64encode(f"foo:{BAR_SHA1}\n".encode()).decode()}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "custom-headers", "namespace": "default"},
         "data": {"My-Custom-Header": "42", "My-Custom-Header-Dollar": "$remote_addr"}},
        _ingress("auth.example", {"auth-type": "basic", "auth-secret": "users"}),
        _ingress("missing.example", {"auth-type": "basic", "auth-secret": "something"}),
        _ingress("cors.example", {"enable-cors": "true"}),
        _ingress("authcors.example", {"auth-type": "basic", "auth-secret": "users",
                                      "enable-cors": "true"}),
        _ingress("allow.example", {"allowlist-source-range": "10.0.0.0/8"}),
        _ingress("deny.example", {"denylist-source-range": "10.0.0.0/8"}),
        _ingress("headers.example", {"custom-headers": "default/custom-headers"}),
        _ingress("upload.example", {"proxy-body-size": "1k"}),
        _ingress("rate.example", {"limit-rpm": "2"}),
        _ingress("sticky.example", {"affinity": "cookie", "session-cookie-name": "SERVERID",
                                    "session-cookie-max-age": "172800",
                                    "session-cookie-secure": "true",
                                    "session-cookie-domain": "foo.bar"}),
        _ingress("session.example", {"affinity": "cookie"}),
        _ingress("external.example", {
            "auth-url": f"http://127.0.0.1:{auth_port}/basic-auth/user/password",
            "auth-response-headers": "X-Auth-User"}),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
         "data": {"use-forwarded-headers": "true"}},
    ]
    conversion = convert(inputs, MIGRATE)
    objects = [dict(o) for o in conversion.objects]
    _apply(sa, *_backend(echo_port), *objects)
    for kind, name in [(o["kind"], o["metadata"]["name"]) for o in objects
                       if o["kind"] in ("SecurityPolicy", "BackendTrafficPolicy",
                                        "ClientTrafficPolicy")]:
        wait_for(f"{kind} {name} accepted", functools.partial(_accepted, sa, kind, name))
    wait_for("the plain route served", lambda: _get(address, "deny.example")[0] == 200)

    assert wait_for("basic auth on", lambda: _get(address, "auth.example")[0] == 401)
    assert _get(address, "auth.example", _basic("foo", "wrong"))[0] == 401
    assert _get(address, "auth.example", _basic("foo", "bar"))[0] == 200

    status, _, body = _get(address, "missing.example")
    assert (status, b"503 Service Temporarily Unavailable" in body) == (503, True)

    status, headers, _ = _get(address, "cors.example")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    assert _get(address, "cors.example", {"Origin": "https://x.example"})[1][
        "Access-Control-Allow-Origin"] == "*"

    status, headers, _ = _get(address, "authcors.example")
    assert (status, headers["Access-Control-Allow-Origin"]) == (401, "*")
    assert _get(address, "allow.example")[0] == 403
    assert _get(address, "allow.example", {"X-Forwarded-For": "10.1.2.3"})[0] == 200
    assert _get(address, "allow.example", {"X-Forwarded-For": "10.1.2.3, 192.0.2.9"})[0] == 200
    assert _get(address, "deny.example", {"X-Forwarded-For": "10.1.2.3"})[0] == 403

    first = {"X-Forwarded-For": "192.0.2.1"}
    assert [_get(address, "rate.example", first)[0] for _ in range(3)] == [200, 200, 503]
    assert _get(address, "rate.example", {"X-Forwarded-For": "192.0.2.2"})[0] == 200

    status, headers, _ = _get(address, "headers.example")
    assert (status, headers["My-Custom-Header"], headers["My-Custom-Header-Dollar"]) == \
        (200, "42", "$remote_addr")
    assert json.loads(_get(address, "deny.example")[2])["headers"]

    status, headers, _ = _get(address, "external.example")
    assert (status, headers["WWW-Authenticate"]) == (401, 'Basic realm="Fake Realm"')
    status, _, body = _get(address, "external.example", _basic("user", "password"))
    assert (status, json.loads(body)["headers"]["X-Auth-User"]) == (200, ["user"])

    cookie = _get(address, "sticky.example")[1]["Set-Cookie"]
    assert cookie.startswith("SERVERID=")
    assert {"Max-Age=172800", "Domain=foo.bar", "Path=/", "Secure"} <= set(cookie.split("; "))
    cookie = _get(address, "session.example")[1]["Set-Cookie"]
    assert cookie.startswith("INGRESSCOOKIE=") and "Max-Age" not in cookie
    assert _get(address, "upload.example", body=b"x" * 2048)[0] == 413
    assert _get(address, "upload.example", body=b"x" * 512)[0] == 200
