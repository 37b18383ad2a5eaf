"""ClientTrafficPolicy headers, BackendTrafficPolicy compression and an HTTPRouteFilter's
direct response, applied with kubectl, change what real Envoy does (issue 13).

Real `propylon up`, real kubectl, real Envoy, the echo backend:
- an HTTPRouteFilter named by an ExtensionRef filter answers for its rule, with its
  ConfigMap's body: an edit of the ConfigMap reaches the answer; a rule naming a filter that
  does not exist answers 500 and the route says ResolvedRefs False; another rewrites the path
  by a regular expression;
- a compressing BackendTrafficPolicy gzips the route's answers for a client accepting gzip,
  and the backend does not see Accept-Encoding;
- a ClientTrafficPolicy's early request headers reach the backend, its late response headers
  the client.
"""

from __future__ import annotations

import gzip
import http.client
import json
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import GATEWAY, _apply, _backend, stack  # noqa: F401 - `stack` is a fixture

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
EG = "gateway.envoyproxy.io/v1alpha1"
HOST = "client.example"


def _get(address: str, path: str, headers: dict[str, str] | None = None,
         ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(address, 8080, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": HOST, "Connection": "close",
                                           **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _objects(body: str) -> list[dict[str, Any]]:
    ext = {"type": "ExtensionRef", "extensionRef": {"group": "gateway.envoyproxy.io",
                                                    "kind": "HTTPRouteFilter"}}
    return [
        GATEWAY,
        {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST], "rules": [
             {"matches": [{"path": {"type": "PathPrefix", "value": "/answer"}}],
              "filters": [{**ext, "extensionRef": {**ext["extensionRef"], "name": "answer"}}]},
             {"matches": [{"path": {"type": "PathPrefix", "value": "/missing"}}],
              "filters": [{**ext, "extensionRef": {**ext["extensionRef"], "name": "nowhere"}}]},
             {"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
              "filters": [{**ext, "extensionRef": {**ext["extensionRef"], "name": "v1"}}],
              "backendRefs": [{"name": "echo", "port": 80}]},
             {"backendRefs": [{"name": "echo", "port": 80}]}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "answer-body", "namespace": "default"},
         "data": {"response.body": body}},
        {"apiVersion": EG, "kind": "HTTPRouteFilter",
         "metadata": {"name": "answer", "namespace": "default"},
         "spec": {"directResponse": {"statusCode": 418, "contentType": "text/plain", "body": {
             "type": "ValueRef", "valueRef": {"group": "", "kind": "ConfigMap",
                                              "name": "answer-body"}}}}},
        {"apiVersion": EG, "kind": "HTTPRouteFilter",
         "metadata": {"name": "v1", "namespace": "default"},
         "spec": {"urlRewrite": {"path": {"type": "ReplaceRegexMatch", "replaceRegexMatch": {
             "pattern": "^/v1/(.*)$", "substitution": "/api/\\1"}}}}},
        {"apiVersion": EG, "kind": "BackendTrafficPolicy",
         "metadata": {"name": "zip", "namespace": "default"},
         "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                  "name": "web"}],
                  "compressor": [{"type": "Gzip", "minContentLength": 10}]}},
        {"apiVersion": EG, "kind": "ClientTrafficPolicy",
         "metadata": {"name": "headers", "namespace": "default"},
         "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                  "name": "gw"}],
                  "headers": {"earlyRequestHeaders": {"set": [{"name": "x-early",
                                                                "value": "early"}]},
                              "lateResponseHeaders": {"set": [{"name": "x-late",
                                                               "value": "late"}]}}}},
    ]


def _route_refs(sa: Standalone) -> dict[str, Any] | None:
    obj = sa.get_json("httproute", "web")
    for parent in (obj.get("status") or {}).get("parents") or []:
        for cond in parent.get("conditions") or []:
            if cond["type"] == "ResolvedRefs":
                return dict(cond)
    return None


def test_direct_response_compression_and_header_settings_reach_envoy(
        stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_objects("first body"))
    wait_for("the filter's answer", lambda: _get(address, "/answer")[::2] == (418, b"first body"))
    assert _get(address, "/answer")[1]["content-type"] == "text/plain"
    assert _get(address, "/missing")[0] == 500
    refs = _route_refs(sa)
    assert refs is not None and (refs["status"], refs["reason"]) == ("False", "BackendNotFound")
    assert 'HTTPRouteFilter "default/nowhere" not found' in refs["message"]

    _apply(sa, *_objects("second body"))
    wait_for("the ConfigMap's new body", lambda: _get(address, "/answer")[2] == b"second body")

    def gzipped() -> tuple[int, dict[str, str], bytes] | None:
        answer = _get(address, "/echo", {"Accept-Encoding": "gzip"})
        return answer if answer[1].get("content-encoding") == "gzip" else None

    status, headers, body = wait_for("a gzipped answer", gzipped)
    assert status == 200 and headers["x-late"] == "late"
    echoed = json.loads(gzip.decompress(body))
    seen = {k.lower(): v for k, v in echoed["headers"].items()}
    assert "accept-encoding" not in seen
    assert seen["x-early"] in ("early", ["early"])
    assert "content-encoding" not in _get(address, "/echo")[1]  # no Accept-Encoding: plain
    assert json.loads(_get(address, "/v1/users")[2])["path"] == "/api/users"
