"""A wildcard in `cors-allow-origin` stands for one DNS label, as in ingress-nginx, on real
Envoy: real `propylon up`, real kubectl, the echo backend, the Ingress converted as `propylon
migrate` does and only the output applied.

`http://*.origin.cors.com`: an Origin with one label in place of `*` is allowed (echoed back
on an answer, its preflight answered by the gateway); with two labels it is not: no CORS
header, and its preflight reaches the backend, as nginx proxies the OPTIONS of an origin it
does not allow.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from propylon.ingress import MIGRATE, convert

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, _free_port, _own_address

pytestmark = pytest.mark.e2e

HOST = "cors.foo.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST"}


@pytest.fixture
def stack(standalone: Standalone) -> Iterator[tuple[Standalone, str, int]]:
    address, echo_port = _own_address((80,)), _free_port()
    standalone.start("--address-pool", f"{address}-{address}", "--echo", f"127.0.0.1:{echo_port}")
    yield standalone, address, echo_port


def _send(address: str, method: str, origin: str,
          headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(address, 80, timeout=10)
    try:
        conn.request(method, "/", headers={"Host": HOST, "Origin": origin, "Connection": "close",
                                           **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def test_a_wildcard_origin_stands_for_one_label(stack: tuple[Standalone, str, int]) -> None:
    sa, address, echo_port = stack
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "cors", "namespace": "default", "annotations": {
                   "nginx.ingress.kubernetes.io/enable-cors": "true",
                   "nginx.ingress.kubernetes.io/cors-allow-origin": "http://*.origin.cors.com"}},
               "spec": {"rules": [{"host": HOST, "http": {"paths": [{
                   "path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": "echo", "port": {"number": 80}}}}]}}]}}
    _apply(sa, *_backend(echo_port), *[dict(o) for o in convert([ingress], MIGRATE).objects])
    one, two = "http://bar.origin.cors.com", "http://bar.foo.origin.cors.com"
    wait_for("the allowed origin echoed back", lambda: _send(address, "GET", one)[1].get(
        "Access-Control-Allow-Origin") == one)

    status, headers, _ = _send(address, "GET", two)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers

    status, headers, body = _send(address, "OPTIONS", one, PREFLIGHT)  # answered by Envoy
    assert headers["Access-Control-Allow-Origin"] == one
    assert "POST" in headers["Access-Control-Allow-Methods"] and b'"method"' not in body

    status, headers, body = _send(address, "OPTIONS", two, PREFLIGHT)  # proxied
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    assert json.loads(body)["method"] == "OPTIONS"
