"""A SecurityPolicy that cannot be applied fails closed, through a real Envoy.

Real `propylon up`, real kubectl, real Envoy, the echo backend: a basicAuth policy whose
Secret has no `.htpasswd` key, then a malformed line, makes its route answer 500 (not serve it
unauthenticated) while the Gateway's other route answers 200; the policy is Accepted False
saying the route answers 500 until it is fixed, the route stays Accepted. Once the Secret is
fixed, the route asks for credentials again: 401 without them, 200 with them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_basic_auth_hashes import _get, _secret
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture
from .test_security_policy import _gateway, _policy

pytestmark = pytest.mark.e2e


def _accepted(sa: Standalone, kind: str, name: str, entry: str) -> dict[str, Any]:
    found = sa.get_json(kind, name)["status"][entry][0]["conditions"]
    return {c["type"]: c for c in found}["Accepted"]


def test_unusable_basic_auth_secret_answers_500_until_fixed(
        stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    no_key = {**_secret("users", ""), "data": {"users": base64.b64encode(b"alice:x").decode()}}
    _apply(sa, *_backend(echo_port), *_gateway("guarded", "open"), no_key,
           _policy("guarded", "guarded", {"basicAuth": {"users": {"name": "users"}}}))

    wait_for("the open route to be served", lambda: _get(address, "open.example")[0] == 200)
    wait_for("the guarded route to fail closed",
             lambda: _get(address, "guarded.example")[0] == 500)
    assert _get(address, "guarded.example", ("alice", "x"))[0] == 500
    policy = _accepted(sa, "securitypolicy", "guarded", "ancestors")
    assert policy["status"] == "False" and '".htpasswd"' in policy["message"]
    assert "answer 500" in policy["message"]
    assert _accepted(sa, "httproute", "guarded", "parents")["status"] == "True"

    _apply(sa, _secret("users", "alice:$9$not$known\n"))
    wait_for("the malformed line to be reported", lambda: 'line 1 (user "alice")' in _accepted(
        sa, "securitypolicy", "guarded", "ancestors")["message"])
    assert _get(address, "guarded.example")[0] == 500
    assert _get(address, "open.example")[0] == 200

    digest = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    _apply(sa, _secret("users", f"alice:{{SHA}}{digest}\n"))
    wait_for("the fixed policy to ask for credentials",
             lambda: _get(address, "guarded.example")[0] == 401)
    assert _get(address, "guarded.example", ("alice", "wonderland"))[0] == 200
    assert _get(address, "guarded.example", ("alice", "x"))[0] == 401
    assert _accepted(sa, "securitypolicy", "guarded", "ancestors")["status"] == "True"
