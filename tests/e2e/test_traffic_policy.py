"""A BackendTrafficPolicy applied with kubectl changes what real Envoy does (issue 13).

Real `propylon up`, real kubectl, real Envoy, the echo backend:
- `retry`: a backend that fails twice with 500 before answering (the echo's retry simulator)
  is answered 500 without the policy, and 200 once the policy retrying 500s is attached to the
  route; the policy says Accepted on the route's Gateway;
- `timeout.http.requestTimeout`: with the policy, a backend slower than the timeout gets 504
  from the Gateway while a fast one is answered;
- a policy using a field Propylon does not implement says so in its status and changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import GATEWAY, _apply, _backend, stack  # noqa: F401 - `stack` is a fixture
from .test_walkthrough import http_get

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"
HOST = "policy.example"


def _gateway_and_route() -> list[dict[str, Any]]:
    return [
        GATEWAY,
        {"apiVersion": API, "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [HOST],
                  "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]}},
    ]


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                     "name": "web"}], **spec}}


def _flaky(address: str) -> int:
    """Status of a request the echo fails twice (500) before answering, each a fresh one."""
    path = f"/retry/x?uuid={uuid.uuid4()}&succeedAfter=2&responseCode=500"
    return http_get(address, 8080, HOST, path)[0]


def _accepted(sa: Standalone, name: str) -> dict[str, Any] | None:
    obj = sa.get_json("backendtrafficpolicy", name)
    for ancestor in (obj.get("status") or {}).get("ancestors") or []:
        for cond in ancestor.get("conditions") or []:
            if cond["type"] == "Accepted":
                return {"ref": ancestor["ancestorRef"], **cond}
    return None


def test_retry_and_request_timeout_reach_envoy(stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_gateway_and_route())
    wait_for("the route to be served", lambda: http_get(address, 8080, HOST)[0] == 200)
    assert _flaky(address) == 500  # no policy: the first failure reaches the client

    _apply(sa, _policy("retry", {
        "retry": {"numRetries": 3, "retryOn": {"httpStatusCodes": [500]},
                  "perRetry": {"backOff": {"baseInterval": "10ms"}}}}))
    accepted = wait_for("the policy to be accepted", lambda: _accepted(sa, "retry"))
    assert (accepted["status"], accepted["ref"]) == ("True", {
        "group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default",
        "name": "gw"})
    wait_for("Envoy to retry the 500s", lambda: _flaky(address) == 200)

    _apply(sa, _policy("retry", {"timeout": {"http": {"requestTimeout": "1s"}}}))
    wait_for("a slow backend to time out",
             lambda: http_get(address, 8080, HOST, "/?delay=3s")[0] == 504)
    assert http_get(address, 8080, HOST, "/?delay=100ms")[0] == 200
    assert _flaky(address) == 500  # the retry left with the policy's retry field


def test_an_unimplemented_field_is_reported_and_changes_nothing(
        stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    _apply(sa, *_backend(echo_port), *_gateway_and_route(), _policy("breaker", {
        "retry": {"numRetries": 3, "retryOn": {"httpStatusCodes": [500]}},
        "bandwidthLimit": {"request": {"limit": {"value": "1Mi", "unit": "Second"}}}}))
    accepted = wait_for("the policy's status", lambda: _accepted(sa, "breaker"))
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"].startswith("spec.bandwidthLimit is not implemented by Propylon yet")
    wait_for("the route to be served", lambda: http_get(address, 8080, HOST)[0] == 200)
    assert _flaky(address) == 500
