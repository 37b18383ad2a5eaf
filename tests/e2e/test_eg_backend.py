"""An Envoy Gateway Backend named by an HTTPRoute's backendRef is served by real Envoy (issue 13).

Real `propylon up`, real kubectl, real Envoy, the echo backend: a route to a Backend whose IP
endpoint is the echo's address is answered by the echo, the Backend is Accepted and the route's
references resolved; a Backend whose FQDN is the echo Service's cluster DNS name reaches the
Service's endpoints, and an HTTPRouteFilter rewriting the host to the Backend's sends that name;
a Backend Propylon cannot use (FQDN endpoints mixed with IP ones) is
Accepted False naming the field, and the route naming it says so (ResolvedRefs False) while the
other rule keeps being served.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import GATEWAY, _apply, _backend, stack  # noqa: F401 - `stack` is a fixture
from .test_traffic_policy import HOST
from .test_walkthrough import http_get

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
EG = "gateway.envoyproxy.io"


def _eg_backend(name: str, *endpoints: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{EG}/v1alpha1", "kind": "Backend",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"endpoints": list(endpoints)}}


def _gateway_and_route() -> list[dict[str, Any]]:
    def rule(prefix: str, backend: str, *filters: str) -> dict[str, Any]:
        return {"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "filters": [{"type": "ExtensionRef", "extensionRef": {
                    "group": EG, "kind": "HTTPRouteFilter", "name": f}} for f in filters],
                "backendRefs": [{"group": EG, "kind": "Backend", "name": backend}]}
    return [
        GATEWAY,
        {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST],
                  "rules": [rule("/good", "echo-ip"), rule("/bad", "mixed"),
                            rule("/svc", "echo-svc", "to-backend-host")]}},
        {"apiVersion": f"{EG}/v1alpha1", "kind": "HTTPRouteFilter",
         "metadata": {"name": "to-backend-host", "namespace": "default"},
         "spec": {"urlRewrite": {"hostname": {"type": "Backend"}}}},
    ]


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    status = obj.get("status") or {}
    found = [c for entry in (status, *(status.get("parents") or []))
             for c in entry.get("conditions") or [] if c["type"] == kind]
    return found[0] if found else None


def test_a_backend_by_ip_is_served_and_an_unusable_one_is_reported(
        stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_gateway_and_route(),
           _eg_backend("echo-svc", {"fqdn": {"hostname": "echo.default.svc.cluster.local",
                                             "port": 80}}),
           _eg_backend("echo-ip", {"ip": {"address": "127.0.0.1", "port": echo_port}}),
           _eg_backend("mixed", {"ip": {"address": "127.0.0.1", "port": echo_port}},
                       {"fqdn": {"hostname": "echo.example", "port": echo_port}}))
    status, body = wait_for("the Backend's endpoint to answer",
                            lambda: (r := http_get(address, 8080, HOST, "/good/x"))[0] == 200
                            and r)
    assert json.loads(body)["path"] == "/good/x"
    accepted = wait_for("the Backend to be accepted", lambda: _condition(
        sa.get_json("backends.gateway.envoyproxy.io", "echo-ip"), "Accepted"))
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")

    refused = wait_for("the unusable Backend's status", lambda: _condition(
        sa.get_json("backends.gateway.envoyproxy.io", "mixed"), "Accepted"))
    assert (refused["status"], refused["reason"]) == ("False", "Invalid")
    assert "spec.endpoints: FQDN endpoints cannot be mixed with IP or unix ones" in \
        refused["message"]
    resolved = wait_for("the route to say why", lambda: _condition(
        sa.get_json("httproute", "web"), "ResolvedRefs"))
    assert resolved["status"] == "False"
    assert resolved["message"].startswith('Backend "default/mixed" is not accepted')
    status, body = http_get(address, 8080, HOST, "/svc")
    assert (status, json.loads(body)["host"]) == (200, "echo.default.svc.cluster.local")
    assert http_get(address, 8080, HOST, "/bad")[0] == 500
    assert http_get(address, 8080, HOST, "/good")[0] == 200
