"""Decoding a SecurityPolicy's jwt and authorization: remote JWKS over http:// and https://
from a Service or a DNS name, and JWT principals, with what is refused naming the field and
the fix."""

from __future__ import annotations

from typing import Any

from propylon.api.egauth import JwtClaim, JwtPrincipal, RemoteJwks, authorization, jwt
from propylon.api.envoygateway import Policy


def _problems(spec: dict[str, Any]) -> tuple[str, ...]:
    return Policy.decode({"kind": "SecurityPolicy", "metadata": {"name": "p", "namespace": "ns"},
                          "spec": spec}).problems


def _remote(uri: str, **more: Any) -> RemoteJwks | None:
    found, errors = jwt({"providers": [{"name": "a", "remoteJWKS": {"uri": uri, **more}}]})
    assert errors == []
    return found.providers[0].remote


def test_remote_jwks_hosts() -> None:
    assert _remote("http://keys.auth/jwks.json") == RemoteJwks(
        "http://keys.auth/jwks.json", "auth", "keys", 80, 300_000)
    assert _remote("https://keys.auth.svc.cluster.local/jwks.json", cacheDuration="10m",
                   failedRefetchDuration="3s") == RemoteJwks(
        "https://keys.auth.svc.cluster.local/jwks.json", "auth", "keys", 443, 600_000, 3000,
        tls=True)
    assert _remote("https://login.idp.example.com:8443/k") == RemoteJwks(
        "https://login.idp.example.com:8443/k", None, "", 8443, 300_000, tls=True,
        dns_host="login.idp.example.com")


def test_remote_jwks_refusals_name_the_field() -> None:
    problems = _problems({"jwt": {"providers": [
        {"name": "a", "remoteJWKS": {"uri": "ftp://keys.auth/jwks.json"}},
        {"name": "b", "remoteJWKS": {"uri": "http://keys.auth/j", "failedRefetchDuration": "x"}}]}})
    assert any(p.startswith("spec.jwt.providers[0].remoteJWKS.uri: 'ftp://keys.auth/jwks.json' "
                            "is not an http:// or https:// URI") for p in problems)
    assert any(p.startswith("spec.jwt.providers[1].remoteJWKS.failedRefetchDuration: 'x' is not "
                            "a duration") for p in problems)


def test_jwt_principal() -> None:
    found, errors = authorization({"rules": [{"action": "Allow", "principal": {"jwt": {
        "provider": "idp", "scopes": ["read"],
        "claims": [{"name": "user.team", "values": ["ops"]},
                   {"name": "roles", "valueType": "StringArray", "values": ["a", "b"]}]}}}]},
        ("idp",))
    assert errors == []
    assert found.rules[0].jwt == JwtPrincipal("idp", (
        JwtClaim("user.team", ("ops",), False), JwtClaim("roles", ("a", "b"), True)), ("read",))


def test_jwt_principal_refusals_name_the_field() -> None:
    rules = [{"action": "Allow", "principal": {"jwt": {
        "provider": "other", "claims": [{"name": "role", "valueType": "Number", "values": []}]}}}]
    problems = _problems({
        "jwt": {"providers": [{"name": "idp", "localJWKS": {"inline": '{"keys": []}'}}]},
        "authorization": {"rules": rules}})
    path = "spec.authorization.rules[0].principal.jwt"
    assert f"{path}.provider: 'other' is not a provider of this policy's spec.jwt: name one of " \
        "idp, the provider verifying the token whose claims are checked" in problems
    assert f"{path}.claims[0].valueType: 'Number' is not String or StringArray" in problems
    assert f"{path}.claims[0]: give the claim's name and at least one value" in problems
    assert any(p.startswith(f"{path}.provider: 'x' is not a provider of this policy's spec.jwt: "
                            "add spec.jwt") for p in _problems({"authorization": {"rules": [
                                {"action": "Allow", "principal": {"jwt": {
                                    "provider": "x", "scopes": ["s"]}}}]}}))
