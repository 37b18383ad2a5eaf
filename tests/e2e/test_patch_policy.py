"""An EnvoyPatchPolicy applied with kubectl patches what real Envoy serves (issue 13).

Real `propylon up`, real kubectl, real Envoy, the echo backend: a patch adding a request header
to the route's virtual host reaches the backend and the policy is Accepted and Programmed;
once the policy also holds a patch that cannot apply (a path the resource does not have), the
policy is Programmed False naming that patch, none of its patches apply (the header is gone)
and the Gateway keeps serving the route; a patch whose result Envoy itself refuses makes the
policy Programmed False with Envoy's message while Envoy keeps serving what it had.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture
from .test_traffic_policy import HOST, _gateway_and_route
from .test_walkthrough import http_get

pytestmark = pytest.mark.e2e

VHOST = "type.googleapis.com/envoy.config.route.v3.VirtualHost"
ADD_HEADER = {"type": VHOST, "name": f"default/gw/8080/{HOST}",
              "operation": {"op": "add", "path": "/request_headers_to_add",
                            "value": [{"header": {"key": "x-patched", "value": "yes"}}]}}


def _policy(*patches: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyPatchPolicy",
            "metadata": {"name": "patch", "namespace": "default"},
            "spec": {"targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                   "name": "gw"},
                     "type": "JSONPatch", "jsonPatches": list(patches)}}


def _patched_header(address: str) -> list[str] | None:
    """The x-patched header the echo backend received, or None (also when not answered)."""
    status, body = http_get(address, 8080, HOST)
    if status != 200:
        return None
    headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    return headers.get("x-patched", [])


def _conditions(sa: Standalone) -> dict[str, dict[str, Any]]:
    obj = sa.get_json("envoypatchpolicy", "patch")
    return {c["type"]: c for a in (obj.get("status") or {}).get("ancestors") or []
            for c in a.get("conditions") or []}


def test_a_patch_reaches_envoy_and_a_failing_one_is_reported_and_left_out(
        stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_gateway_and_route())
    wait_for("the route to be served", lambda: _patched_header(address) == [])

    _apply(sa, _policy(ADD_HEADER))
    wait_for("the patched header to reach the backend",
             lambda: _patched_header(address) == ["yes"])
    found = wait_for("the policy to be programmed",
                     lambda: (c := _conditions(sa)).get("Programmed", {}).get("status") == "True"
                     and c)
    assert found["Accepted"]["status"] == "True"

    _apply(sa, _policy(ADD_HEADER, {
        "type": VHOST, "name": f"default/gw/8080/{HOST}",
        "operation": {"op": "replace", "path": "/no_such_field", "value": 1}}))
    found = wait_for("the policy to say its patch failed",
                     lambda: (c := _conditions(sa)).get("Programmed", {}).get("status") == "False"
                     and c)
    assert found["Programmed"]["reason"] == "Invalid"
    assert found["Programmed"]["message"].startswith(
        f"jsonPatches[1]: VirtualHost default/gw/8080/{HOST}: path '/no_such_field' does not "
        "exist")
    wait_for("the policy's patches to be left out", lambda: _patched_header(address) == [])

    _apply(sa, _policy({  # a valid Cluster message that Envoy refuses: no connect timeout
        "type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "default/echo/80",
        "operation": {"op": "replace", "path": "/connect_timeout", "value": "0s"}}))
    found = wait_for("the policy to say Envoy refused its result",
                     lambda: (c := _conditions(sa)).get("Programmed", {}).get("message", "")
                     .startswith("Envoy refused the patched Cluster default/echo/80") and c)
    assert found["Programmed"]["status"] == "False"
    assert http_get(address, 8080, HOST)[0] == 200  # Envoy keeps the cluster it had
