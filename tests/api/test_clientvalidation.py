"""ClientTrafficPolicy `tls.clientValidation` decoding: what a user writes and what is refused,
with a message naming the field and the fix."""

from __future__ import annotations

import base64
import hashlib

from propylon.api.clientvalidation import CARef, SanMatch, client_validation
from propylon.api.envoygateway import Policy

SPKI = base64.b64encode(hashlib.sha256(b"key").digest()).decode()
CERT_HASH = hashlib.sha256(b"cert").hexdigest()


def _decode(validation: dict) -> tuple[object, list[str]]:
    errors: list[str] = []
    return client_validation({"tls": {"clientValidation": validation}}, errors), errors


def test_refs_hashes_and_names_are_read() -> None:
    found, errors = _decode({
        "optional": True,
        "caCertificateRefs": [{"name": "ca"}, {"kind": "ConfigMap", "name": "cm",
                                               "namespace": "other"}],
        "spkiHashes": [SPKI], "certificateHashes": [CERT_HASH.upper()],
        "subjectAltNames": {"dnsNames": [{"type": "Suffix", "value": ".example.com"}],
                            "uris": [{"value": "spiffe://td/app"}]}})
    assert errors == []
    assert found.ca_refs == (  # type: ignore[attr-defined]
        CARef("Secret", None, "ca", "spec.tls.clientValidation.caCertificateRefs[0]"),
        CARef("ConfigMap", "other", "cm", "spec.tls.clientValidation.caCertificateRefs[1]"))
    assert found.optional  # type: ignore[attr-defined]
    assert found.subject_alt_names == (  # type: ignore[attr-defined]
        SanMatch("DNS", "Suffix", ".example.com"), SanMatch("URI", "Exact", "spiffe://td/app"))


def test_bad_values_are_refused_naming_the_field() -> None:
    _, errors = _decode({"caCertificateRefs": [{"kind": "Service", "name": "x"}],
                         "spkiHashes": ["not-base64!"], "certificateHashes": ["abc"],
                         "subjectAltNames": {"emailAddresses": [{"type": "Glob", "value": "a"}]}})
    assert any("caCertificateRefs[0]" in e and "Secret or ConfigMap" in e for e in errors)
    assert any(e.startswith("spec.tls.clientValidation.spkiHashes[0]") for e in errors)
    assert any(e.startswith("spec.tls.clientValidation.certificateHashes[0]") for e in errors)
    assert any("subjectAltNames.emailAddresses[0]" in e for e in errors)


def test_nothing_to_check_against_is_refused() -> None:
    _, errors = _decode({"optional": True})
    assert errors and "caCertificateRefs, spkiHashes or certificateHashes" in errors[0]


def test_crl_and_other_names_make_the_policy_not_accepted() -> None:
    policy = Policy.decode({
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "ClientTrafficPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                 "name": "gw"}],
                 "tls": {"clientValidation": {
                     "caCertificateRefs": [{"name": "ca"}], "crl": {"refs": [{"name": "c"}]},
                     "subjectAltNames": {"otherNames": [{"oid": "1.2", "value": "x"}]}}}}})
    assert any("spec.tls.clientValidation.crl" in p for p in policy.problems)
    assert any("subjectAltNames.otherNames" in p for p in policy.problems)
