"""Certificates, keys and CA bundles Envoy would refuse: the listener (or policy, or Gateway
reference) using one says so, and nothing else stops being served.

Each bad `tls.crt` / `tls.key` pair of `BAD_PAIRS` makes its HTTPS listener ResolvedRefs False
(InvalidCertificateRef) and Programmed False, with a message naming the Secret, the key and
what is wrong, while the Gateway's other HTTPS listener keeps its certificate and stays
Programmed. `GOOD_PAIRS` are key kinds Envoy takes. `tests/translate/test_envoy_agrees.py`
checks both lists against the real Envoy.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.golden import snapshot_of
from tests.certificates import cert_pem, certificate, key_pem

KEY = GatewayKey("default", "gw")
GATEWAY_API = "gateway.networking.k8s.io/v1"
NOT_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
PEM_FILES = Path(__file__).parent / "testdata" / "pem"


def _cert_pem(key: Any, signer: Any = None, name: str = "app.example.com") -> str:
    return cert_pem(certificate(key, name, signer=signer))


@cache
def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _self_signed(key: Any) -> tuple[str, str]:
    return _cert_pem(key), key_pem(key)


@cache
def good_pair(kind: str) -> tuple[str, str]:
    """A certificate and key Envoy takes, of `kind`."""
    keys = {"rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
            "ec-p256": _ec,
            "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
            "ec-p521": lambda: ec.generate_private_key(ec.SECP521R1()),
            "ed25519": ed25519.Ed25519PrivateKey.generate}
    if kind == "chain leaf first":
        ca = ec.generate_private_key(ec.SECP384R1())
        return _cert_pem(_ec(), ca) + _cert_pem(ca, name="ca"), key_pem(_ec())
    if kind == "key appended to tls.crt":
        return _cert_pem(_ec()) + key_pem(_ec()), key_pem(_ec())
    if kind == "traditional EC key":
        return _cert_pem(_ec()), key_pem(_ec(), fmt=serialization.PrivateFormat.TraditionalOpenSSL)
    return _self_signed(keys[kind]())


GOOD_PAIRS = ("rsa-2048", "ec-p256", "ec-p384", "ec-p521", "ed25519", "chain leaf first",
              "traditional EC key", "key appended to tls.crt")


@cache
def bad_pair(kind: str) -> tuple[str, str]:
    """A certificate and key Envoy refuses, of `kind`."""
    cert, key = _cert_pem(_ec()), key_pem(_ec())
    if kind == "key does not match":
        return cert, key_pem(ec.generate_private_key(ec.SECP256R1()))
    if kind == "encrypted key":
        return cert, key_pem(_ec(), serialization.BestAvailableEncryption(b"secret"))
    if kind == "chain with the CA first":
        ca = ec.generate_private_key(ec.SECP384R1())
        return _cert_pem(ca, name="ca") + _cert_pem(_ec(), ca), key
    if kind == "unparsable certificate":
        return NOT_PEM, key
    if kind == "no PEM in tls.crt":
        return "just text", key
    if kind == "certificate as key":
        return cert, cert
    if kind == "rsa-pss certificate":  # made with openssl genpkey -algorithm RSA-PSS
        return ((PEM_FILES / "rsa-pss.crt").read_text(), (PEM_FILES / "rsa-pss.key").read_text())
    if kind == "indented certificate":  # Envoy only sees a BEGIN line that starts a line
        return "  " + cert, key
    if kind == "indented key":
        return cert, "  " + key
    weak = {"rsa-1024": lambda: rsa.generate_private_key(65537, 1024),
            "ec-secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
            "ed448": ed448.Ed448PrivateKey.generate,
            "dsa": lambda: dsa.generate_private_key(2048)}
    return _self_signed(weak[kind]())


# kind -> (the key named, words of what is wrong)
BAD_PAIRS = {
    "key does not match": ("tls.key", "private key in tls.key does not match the certificate"),
    "encrypted key": ("tls.key", "encrypted private key"),
    "chain with the CA first": ("tls.key", "matches a later certificate of tls.crt"),
    "unparsable certificate": ("tls.crt", "tls.crt is not a PEM certificate: error parsing"),
    "no PEM in tls.crt": ("tls.crt", "tls.crt is not a PEM certificate"),
    "certificate as key": ("tls.key", "tls.key is not a PEM private key"),
    "rsa-pss certificate": ("tls.crt", "has an RSA-PSS public key, which Envoy does not"),
    "indented certificate": ("tls.crt", "tls.crt is not a PEM certificate: no line starts with"),
    "indented key": ("tls.key", "tls.key is not a PEM private key: no line starts with"),
    "rsa-1024": ("tls.key", "a 1024-bit RSA key, which Envoy does not support"),
    "ec-secp256k1": ("tls.key", "an EC key on secp256k1"),
    "ed448": ("tls.key", "an Ed448 key"),
    "dsa": ("tls.key", "a DSA key"),
}


def _secret(name: str, cert: str | bytes, key: str) -> dict[str, Any]:
    raw = cert if isinstance(cert, bytes) else cert.encode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(raw).decode(),
                     "tls.key": base64.b64encode(key.encode()).decode()}}


def _listener(name: str, port: int, secret: str) -> dict[str, Any]:
    return {"name": name, "protocol": "HTTPS", "port": port, "hostname": f"{name}.example.com",
            "tls": {"certificateRefs": [{"name": secret}]}}


def _translate(resources: list[dict[str, Any]], gateway_spec: dict[str, Any]) -> Any:
    resources = [
        {"apiVersion": GATEWAY_API, "kind": "GatewayClass", "metadata": {"name": "propylon"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": GATEWAY_API, "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default", "generation": 1},
         "spec": {"gatewayClassName": "propylon", **gateway_spec}},
        *resources]
    snapshot = snapshot_of({"resources": resources})
    ports = tuple(PortState(li["port"], li["port"]) for li in gateway_spec["listeners"])
    snapshot = type(snapshot)(snapshot.objects, {KEY: InfraState(KEY, "127.0.0.1", ports, True)},
                              snapshot.controller_name, snapshot.now)
    return translate(snapshot)


def _status(result: Any, kind: str, name: str) -> dict[str, Any]:
    return next(u.status.to_json() for u in result.statuses if u.kind == kind and u.name == name)


def _listener_conditions(result: Any) -> dict[str, dict[str, dict[str, Any]]]:
    return {ls["name"]: {c["type"]: c for c in ls["conditions"]}
            for ls in _status(result, "Gateway", "gw")["listeners"]}


@pytest.mark.parametrize("kind", sorted(BAD_PAIRS))
def test_refused_certificate_fails_only_its_listener(kind: str) -> None:
    key, words = BAD_PAIRS[kind]
    result = _translate([_secret("good", *good_pair("ec-p256")), _secret("bad", *bad_pair(kind))],
                        {"listeners": [_listener("ok", 443, "good"),
                                       _listener("broken", 8443, "bad")]})
    listeners = _listener_conditions(result)
    refs = listeners["broken"]["ResolvedRefs"]
    assert (refs["status"], refs["reason"]) == ("False", "InvalidCertificateRef")
    assert 'Secret "default/bad"' in refs["message"] and key in refs["message"]
    assert words in refs["message"]
    assert listeners["broken"]["Programmed"]["status"] == "False"
    assert listeners["ok"]["ResolvedRefs"]["status"] == "True"
    assert listeners["ok"]["Programmed"]["status"] == "True"
    assert [s.name for s in result.gateways[KEY].secrets] == ["default/good"]


@pytest.mark.parametrize("kind", GOOD_PAIRS)
def test_certificate_envoy_takes_is_served(kind: str) -> None:
    result = _translate([_secret("good", *good_pair(kind))],
                        {"listeners": [_listener("ok", 443, "good")]})
    assert _listener_conditions(result)["ok"]["Programmed"]["status"] == "True"
    assert [s.name for s in result.gateways[KEY].secrets] == ["default/good"]


def test_der_certificate_names_the_key_and_asks_for_pem() -> None:
    der = x509.load_pem_x509_certificate(good_pair("ec-p256")[0].encode()).public_bytes(
        serialization.Encoding.DER)
    result = _translate([_secret("der", der, good_pair("ec-p256")[1])],
                        {"listeners": [_listener("ok", 443, "der")]})
    refs = _listener_conditions(result)["ok"]["ResolvedRefs"]
    assert refs["reason"] == "InvalidCertificateRef"
    assert 'Secret "default/der" has no tls.crt as text' in refs["message"]
    assert "PEM certificate chain in tls.crt" in refs["message"]


def _config_map(name: str, pem: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"ca.crt": pem}}


@pytest.mark.parametrize("bundle", [NOT_PEM, "no certificate here", "CA_AND_GARBAGE"])
def test_refused_frontend_ca_bundle_fails_only_its_listener(bundle: str) -> None:
    ca = good_pair("ec-p384")[0]
    pem = ca + NOT_PEM if bundle == "CA_AND_GARBAGE" else bundle
    result = _translate(
        [_secret("good", *good_pair("ec-p256")), _config_map("ca", ca), _config_map("bad", pem)],
        {"listeners": [_listener("ok", 443, "good"), _listener("broken", 8443, "good")],
         "tls": {"frontend": {
             "default": {"validation": {"caCertificateRefs": [
                 {"group": "", "kind": "ConfigMap", "name": "ca"}]}},
             "perPort": [{"port": 8443, "tls": {"validation": {"caCertificateRefs": [
                 {"group": "", "kind": "ConfigMap", "name": "bad"}]}}}]}}})
    listeners = _listener_conditions(result)
    refs = listeners["broken"]["ResolvedRefs"]
    assert (refs["status"], refs["reason"]) == ("False", "InvalidCACertificateRef")
    assert 'caCertificateRef "default/bad"' in refs["message"]
    assert "ca.crt is not a PEM certificate" in refs["message"]
    assert listeners["broken"]["Programmed"]["status"] == "False"
    assert listeners["ok"]["Programmed"]["status"] == "True"


def test_refused_backend_ca_bundle_makes_the_policy_unresolved() -> None:
    result = _translate(
        [_config_map("bad", NOT_PEM),
         {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "default"},
          "spec": {"ports": [{"port": 443}]}},
         {"apiVersion": GATEWAY_API, "kind": "BackendTLSPolicy",
          "metadata": {"name": "p", "namespace": "default", "generation": 1},
          "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "svc"}],
                   "validation": {"hostname": "svc.example.com", "caCertificateRefs": [
                       {"group": "", "kind": "ConfigMap", "name": "bad"}]}}},
         {"apiVersion": GATEWAY_API, "kind": "HTTPRoute",
          "metadata": {"name": "r", "namespace": "default", "generation": 1},
          "spec": {"parentRefs": [{"name": "gw"}],
                   "rules": [{"backendRefs": [{"name": "svc", "port": 443}]}]}}],
        {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]})
    ancestor = _status(result, "BackendTLSPolicy", "p")["ancestors"][0]
    conds = {c["type"]: c for c in ancestor["conditions"]}
    assert (conds["ResolvedRefs"]["status"], conds["ResolvedRefs"]["reason"]) == (
        "False", "InvalidCACertificateRef")
    assert 'ConfigMap "default/bad"' in conds["ResolvedRefs"]["message"]
    assert "ca.crt is not a PEM certificate" in conds["ResolvedRefs"]["message"]
    assert conds["Accepted"]["status"] == "False"


def test_refused_backend_client_certificate_is_on_the_gateway() -> None:
    result = _translate(
        [_secret("client", *bad_pair("key does not match"))],
        {"listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
         "tls": {"backend": {"clientCertificateRef": {"name": "client"}}}})
    conds = {c["type"]: c for c in _status(result, "Gateway", "gw")["conditions"]}
    assert (conds["ResolvedRefs"]["status"], conds["ResolvedRefs"]["reason"]) == (
        "False", "InvalidClientCertificateRef")
    assert 'Secret "default/client"' in conds["ResolvedRefs"]["message"]
    assert "does not match the certificate" in conds["ResolvedRefs"]["message"]
