"""The htpasswd check service's answers, as Envoy's basic_auth filter gives them: the user for
right credentials, 401 with the filter's body and `Basic realm="http://<host><path>"` for
missing or wrong ones; successes cached under a keyed hash for a while, failures never; and
the CheckResponse Envoy gets (the forwarded user name, the 401)."""

from __future__ import annotations

import base64

import pytest

from propylon.basicauth.server import response
from propylon.basicauth.verifier import INVALID, MISSING, Answer, Verifier, credentials
from propylon.htpasswd import formats

USERS = ("foo:$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv.\n"
         "alice:$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_of_an_authorization_header() -> None:
    assert credentials(_basic("foo", "b:ar")) == ("foo", b"b:ar")
    assert credentials("Bearer abc") is None
    assert credentials("Basic !!!") is None
    assert credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None


async def test_right_wrong_and_missing_credentials() -> None:
    verifier = Verifier()
    try:
        assert await verifier.check(USERS, _basic("foo", "bar"), "web", "/a") == Answer("foo")
        assert await verifier.check(USERS, _basic("alice", "U*U"), "web", "/") == Answer("alice")
        refused = Answer(None, INVALID, 'Basic realm="http://web/a?b"')
        assert await verifier.check(USERS, _basic("foo", "baz"), "web", "/a?b") == refused
        assert await verifier.check(USERS, _basic("nobody", "bar"), "web", "/a?b") == refused
        assert await verifier.check(USERS, "", "web", "/") == \
            Answer(None, MISSING, 'Basic realm="http://web/"')
    finally:
        verifier.close()


async def test_successes_are_cached_for_the_ttl_failures_never(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    verifier = Verifier(ttl=10, clock=lambda: now[0])
    calls: list[str] = []
    real = formats.verify

    def counting(password: bytes, hashed: str) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(formats, "verify", counting)
    try:
        for _ in range(3):
            assert (await verifier.check(USERS, _basic("foo", "bar"), "h", "/")).user == "foo"
        assert len(calls) == 1
        for _ in range(2):
            assert (await verifier.check(USERS, _basic("foo", "bad"), "h", "/")).user is None
        assert len(calls) == 3
        now[0] = 11
        assert (await verifier.check(USERS, _basic("foo", "bar"), "h", "/")).user == "foo"
        assert len(calls) == 4
        # the cache holds keyed digests only: neither the password nor the user name
        assert all(b"bar" not in key and b"foo" not in key for key in verifier._verified)
        # a changed hash for the same user and password is verified again
        other = USERS.replace("saltsalt$HZb7DO9JU4769Nu3n58bv.", "x$tMwYqBfQwi3FYAr0aJc8M/")
        assert (await verifier.check(other, _basic("foo", "bar"), "h", "/")).user is None
    finally:
        verifier.close()


def test_check_responses() -> None:
    ok = response(Answer("foo"), "x-user")
    assert ok.status.code == 0
    assert [(h.header.key, h.header.value) for h in ok.ok_response.headers] == [("x-user", "foo")]
    assert not response(Answer("foo"), "").ok_response.headers
    denied = response(Answer(None, INVALID, 'Basic realm="http://h/"'), "x-user")
    assert denied.status.code == 16 and denied.denied_response.status.code == 401
    assert denied.denied_response.body == INVALID
    assert {h.header.key: h.header.value for h in denied.denied_response.headers} == {
        "www-authenticate": 'Basic realm="http://h/"', "content-type": "text/plain"}
