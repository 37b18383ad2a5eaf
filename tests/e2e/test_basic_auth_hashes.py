"""SecurityPolicy basicAuth with users hashed by bcrypt and Apache MD5, applied with kubectl,
checked by the stack's htpasswd service through a real Envoy.

Real `propylon up`, real kubectl, real Envoy, the echo backend: the right password of either
user gets through with the user name forwarded in the header the policy names (one the client
sent replaced); a wrong password, an unknown user or none gets 401 with Envoy's challenge
`WWW-Authenticate: Basic realm="http://<host>/"`; a Secret with a line of an unknown format
leaves the policy Accepted False naming the line number, the user and the format."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
from typing import Any

import bcrypt
import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, stack  # noqa: F401 - `stack` is a fixture
from .test_security_policy import PORT, _gateway, _policy

pytestmark = pytest.mark.e2e


def _apr1(password: str) -> str:
    made = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True,
                          text=True, check=True)
    return made.stdout.strip()


def _secret(name: str, htpasswd: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "default"},
            "data": {".htpasswd": base64.b64encode(htpasswd.encode()).decode()}}


def _get(address: str, host: str, credentials: tuple[str, str] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, response headers and the headers the echo backend saw (lower-cased)."""
    sent = {"Host": host, "Connection": "close", **(headers or {})}
    if credentials is not None:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        sent["Authorization"] = f"Basic {token}"
    conn = http.client.HTTPConnection(address, PORT, timeout=30)
    try:
        conn.request("GET", "/", headers=sent)
        resp = conn.getresponse()
        body = resp.read()
        seen = ({k.lower(): v for k, v in json.loads(body).get("headers", {}).items()}
                if resp.status == 200 else {})
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, seen
    finally:
        conn.close()


def test_bcrypt_and_apr1_users(stack: tuple[Standalone, str, int]) -> None:  # noqa: F811
    sa, address, echo_port = stack
    users = (f"alice:{bcrypt.hashpw(b'wonderland', bcrypt.gensalt(10)).decode()}\n"
             f"bob:{_apr1('builder')}\n")
    _apply(sa, *_backend(echo_port), *_gateway("hashed", "broken"),
           _secret("users", users), _secret("bad-users", "carol:$9$not$known\n"),
           _policy("hashed", "hashed", {"basicAuth": {"users": {"name": "users"},
                                                      "forwardUsernameHeader": "X-User"}}),
           _policy("broken", "broken", {"basicAuth": {"users": {"name": "bad-users"}}}))

    wait_for("alice's bcrypt password to pass",
             lambda: _get(address, "hashed.example", ("alice", "wonderland"))[0] == 200)
    status, _, seen = _get(address, "hashed.example", ("alice", "wonderland"),
                           {"X-User": "forged"})
    assert status == 200 and seen["x-user"] in ("alice", ["alice"])
    status, _, seen = _get(address, "hashed.example", ("bob", "builder"))
    assert status == 200 and seen["x-user"] in ("bob", ["bob"])

    for credentials in (("alice", "builder"), ("bob", "wonderland"), ("eve", "x"), None):
        status, headers, _ = _get(address, "hashed.example", credentials)
        assert status == 401, credentials
        assert headers["www-authenticate"] == 'Basic realm="http://hashed.example/"'

    def refused() -> str:
        conditions = sa.get_json("securitypolicy", "broken")["status"]["ancestors"][0]
        accepted = {c["type"]: c for c in conditions["conditions"]}["Accepted"]
        return accepted["message"] if accepted["status"] == "False" else ""

    message = wait_for("the broken policy to be refused", refused)
    assert 'line 1 (user "carol"): the unknown scheme "9"' in message
