"""BackendTLSPolicy writes refused as the CRD refuses them: required fields, item counts, the CA
source rules, subjectAltNames whose fields do not match their type, repeated targets."""

from __future__ import annotations

from typing import Any

import pytest

from propylon.api.validation import validate, with_defaults

SERVICE = {"group": "", "kind": "Service", "name": "backend"}
CA = {"group": "", "kind": "ConfigMap", "name": "ca"}


def policy(validation: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"targetRefs": [SERVICE],
                            "validation": validation if validation is not None else {
                                "caCertificateRefs": [CA], "hostname": "abc.example.com"}}
    body.update(spec)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
            "metadata": {"name": "p", "namespace": "default"}, "spec": body}


def errors(obj: dict[str, Any]) -> dict[str, str]:
    return {e.field: e.message for e in validate(obj)}


def test_a_valid_policy_with_sans_and_options_has_no_errors() -> None:
    obj = policy({"caCertificateRefs": [CA], "hostname": "abc.example.com",
                  "subjectAltNames": [{"type": "Hostname", "hostname": "*.example.com"},
                                      {"type": "URI", "uri": "spiffe://example.com/ns/a/sa/b"}]},
                 options={"vendor.example.com/x": "y"})
    assert validate(obj) == []
    assert validate(policy({"wellKnownCACertificates": "System", "hostname": "a.example"})) == []
    assert with_defaults(obj) == obj


def test_spec_target_refs_and_validation_hostname_are_required() -> None:
    obj = policy()
    del obj["spec"]
    assert errors(obj) == {"spec": "Required value"}
    no_targets = policy()
    del no_targets["spec"]["targetRefs"]
    assert errors(no_targets) == {"spec.targetRefs": "Required value"}
    assert errors(policy({"caCertificateRefs": [CA]})) == {
        "spec.validation.hostname": "Required value"}
    assert "spec.targetRefs[0].kind" in errors(policy(targetRefs=[{"group": "", "name": "b"}]))


def test_target_ref_counts() -> None:
    assert "spec.targetRefs" in errors(policy(targetRefs=[]))
    many = [{**SERVICE, "name": f"s{i}"} for i in range(17)]
    assert "Too many" in errors(policy(targetRefs=many))["spec.targetRefs"]
    assert validate(policy(targetRefs=many[:16])) == []


def test_ca_certificate_refs_and_well_known_are_exclusive_and_one_is_required() -> None:
    both = errors(policy({"caCertificateRefs": [CA], "wellKnownCACertificates": "System",
                          "hostname": "a.example"}))
    assert "must not contain both CACertificateRefs and WellKnownCACertificates" in \
        both["spec.validation"]
    neither = errors(policy({"hostname": "a.example"}))
    assert "must specify either CACertificateRefs or WellKnownCACertificates" in \
        neither["spec.validation"]
    assert "Too many" in errors(policy({"caCertificateRefs": [CA] * 9, "hostname": "a.example"}))[
        "spec.validation.caCertificateRefs"]


@pytest.mark.parametrize(("san", "message"), [
    ({"type": "Hostname"}, "SubjectAltName element must contain Hostname, if Type is set to "
                           "Hostname"),
    ({"type": "URI", "uri": "spiffe://a/b", "hostname": "a.example"},
     "SubjectAltName element must not contain Hostname, if Type is not set to Hostname"),
    ({"type": "URI"}, "SubjectAltName element must contain URI, if Type is set to URI"),
    ({"type": "Hostname", "hostname": "a.example", "uri": "spiffe://a/b"},
     "SubjectAltName element must not contain URI, if Type is not set to URI"),
])
def test_subject_alt_name_fields_must_match_their_type(san: dict[str, str], message: str) -> None:
    found = errors(policy({"caCertificateRefs": [CA], "hostname": "a.example",
                           "subjectAltNames": [san]}))
    assert message in found["spec.validation.subjectAltNames[0]"]


def test_subject_alt_name_values_types_and_count() -> None:
    found = errors(policy({"caCertificateRefs": [CA], "hostname": "a.example", "subjectAltNames": [
        {"type": "IP", "hostname": "a.example"}, {"type": "URI", "uri": "not a uri"},
        {"type": "Hostname", "hostname": "Not_A_Host"}]}))
    assert "Unsupported value" in found["spec.validation.subjectAltNames[0].type"]
    assert "spec.validation.subjectAltNames[1].uri" in found
    assert "spec.validation.subjectAltNames[2].hostname" in found
    six = [{"type": "Hostname", "hostname": f"h{i}.example"} for i in range(6)]
    assert "Too many" in errors(policy({"caCertificateRefs": [CA], "hostname": "a.example",
                                        "subjectAltNames": six}))[
        "spec.validation.subjectAltNames"]


def test_hostname_and_well_known_values() -> None:
    found = errors(policy({"wellKnownCACertificates": "not valid", "hostname": "*.example.com"}))
    assert set(found) == {"spec.validation.wellKnownCACertificates", "spec.validation.hostname"}
    assert validate(policy({"wellKnownCACertificates": "example.com/roots",
                            "hostname": "a.example"})) == []


def test_repeated_targets_need_distinct_section_names() -> None:
    mixed = errors(policy(targetRefs=[SERVICE, {**SERVICE, "sectionName": "https"}]))
    assert "sectionName must be specified when targetRefs includes 2 or more references to the " \
           "same target" in mixed["spec.targetRefs"]
    repeated = errors(policy(targetRefs=[{**SERVICE, "sectionName": "https"}] * 2))
    assert "sectionName must be unique" in repeated["spec.targetRefs"]
    assert validate(policy(targetRefs=[{**SERVICE, "sectionName": "a"},
                                       {**SERVICE, "sectionName": "b"},
                                       {**SERVICE, "name": "other"}])) == []


def test_unknown_fields_are_flagged() -> None:
    obj = policy({"caCertificateRefs": [CA], "hostname": "a.example", "sni": "x"})
    assert [(e.field, e.unknown) for e in validate(obj)] == [("spec.validation.sni", True)]
