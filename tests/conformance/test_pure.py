"""Unit tests of the conformance runner's pure parts: cases, matching, report, rewrites, TLS."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding

from propylon.conformance.cases import CaseError, load_cases, parse_case, select_cases
from propylon.conformance.manifests import Rewrite
from propylon.conformance.matching import Response, compare
from propylon.conformance.report import (
    FAILED,
    NOT_SUPPORTED,
    SKIPPED,
    SUCCEEDED,
    CaseResult,
    conformance_report,
    summary_line,
)
from propylon.conformance.tlsmaterial import tls_objects


def case(name: str, features: list[str], level: str = "core", provisional: bool = False):
    return parse_case({"name": name, "features": features, "profiles": {"GATEWAY-HTTP": level},
                       "provisional": provisional, "manifests": [], "gateway": {}})


def echo(status: int = 200, **fields: object) -> Response:
    body = {"path": "/", "host": "", "method": "GET", "headers": {}, "namespace": "ns",
            "pod": "infra-backend-v1-abc-12345", **fields}
    return Response(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def test_load_and_select_cases(tmp_path: Path) -> None:
    (tmp_path / "index.yaml").write_text("tests: []\n")
    (tmp_path / "B.yaml").write_text(
        "name: B\nfeatures: [Gateway, HTTPRoute, HTTPRouteCORS]\nprofiles: {GATEWAY-HTTP: extended}\n"
        "provisional: false\nmanifests: [base/manifests.yaml]\ngateway: {name: g}\n"
        "namespacesMustBeReady: true\nweights: {a: 0.5}\n")
    (tmp_path / "A.yaml").write_text(
        "name: A\nfeatures: [Gateway, TLSRoute]\nprofiles: {GATEWAY-TLS: core}\n"
        "provisional: false\nmanifests: []\ngateway: {}\n")
    cases = load_cases(tmp_path)
    assert [c.name for c in cases] == ["A", "B"]
    assert cases[1].namespaces_must_be_ready and cases[1].weights == {"a": 0.5}
    assert [c.name for c in select_cases(cases, features=["GATEWAY-HTTP"])] == ["B"]
    assert [c.name for c in select_cases(cases, features=["TLSRoute"])] == ["A"]
    assert [c.name for c in select_cases(cases, skip=["A"])] == ["B"]
    with pytest.raises(CaseError, match="no case named C"):
        select_cases(cases, run=["C"])
    with pytest.raises(CaseError, match="does not exist"):
        load_cases(tmp_path / "missing")


def test_timeout_codes_are_equivalent() -> None:
    assert compare({}, {"status": 504}, Response(408)) is None
    assert compare({}, {"status": 408}, Response(504)) is None
    assert compare({}, {"status": 504}, Response(503)) is not None
    assert compare({}, {"status": "not200", "failure": True}, Response(500)) is None
    assert compare({}, {"status": [200, 204]}, Response(404)) == "expected status [200, 204], got 404"


def test_echo_defaults_to_the_sent_request_and_joins_headers() -> None:
    request = {"path": "/a?x=1", "host": "h.example", "headers": {"X-A": "1"}}
    expect = {"status": 200, "namespace": "ns", "backend": "infra-backend-v1"}
    ok = echo(path="/a?x=1", host="h.example", headers={"X-A": ["1"]})
    assert compare(request, expect, ok) is None
    assert "path" in compare(request, expect, echo(host="h.example", headers={"X-A": ["1"]}))
    two = echo(path="/a?x=1", host="h.example", headers={"x-a": ["1", "2"]})
    assert "'1,2'" in compare(request, expect, two)
    assert compare(request, {**expect, "headers": {"x-a": "1,2"}}, two) is None
    assert "pod" in compare(request, {**expect, "backend": "infra-backend-v2"}, ok)
    assert "absent" in compare(request, {**expect, "absentHeaders": ["X-A"]}, ok)


def test_namespace_absent_means_not_an_echo() -> None:
    assert compare({}, {"status": 200}, echo()) == "expected namespace '', got 'ns'"
    preflight = {"status": [200, 204], "answeredByGateway": True,
                 "responseHeaderOneOf": {"access-control-allow-methods": ["GET, OPTIONS"]},
                 "ignoreWhitespaceInResponseHeaders": True}
    gateway = Response(204, [("access-control-allow-methods", "GET,OPTIONS")])
    assert compare({"method": "OPTIONS"}, preflight, gateway) is None
    assert "gateway to answer" in compare({"method": "OPTIONS"}, preflight, echo(204))


def test_redirect_location() -> None:
    request = {"path": "/old?q=1"}
    resp = Response(302, [("Location", "http://example.org/new")])
    assert compare(request, {"status": 302, "redirect": {"path": "/new"}}, resp) is None
    assert compare(request, {"status": 302, "redirect": {"host": "example.org"}}, resp) \
        == "expected redirect path '/old', Location is 'http://example.org/new'"
    with_port = Response(301, [("Location", "https://example.org:8443/new")])
    assert "port" in compare(request, {"status": 301, "redirect": {"scheme": "https",
                                                                   "path": "/new"}}, with_port)
    assert compare(request, {"status": 301, "redirect": {"scheme": "https", "port": 8443,
                                                         "path": "/new"}}, with_port) is None


def test_report_statistics_and_summary() -> None:
    results = [
        CaseResult(case("A", ["Gateway", "HTTPRoute"]), SUCCEEDED),
        CaseResult(case("B", ["Gateway", "HTTPRoute"]), FAILED, "why"),
        CaseResult(case("C", ["Gateway", "HTTPRoute", "HTTPRouteCORS"], "extended", True),
                   SUCCEEDED),
        CaseResult(case("D", ["Gateway", "HTTPRoute", "HTTPRouteRetry"], "extended"), SKIPPED),
        CaseResult(case("E", ["Gateway", "HTTPRoute", "ListenerSet"], "extended"), NOT_SUPPORTED),
    ]
    report = conformance_report(results, ["Gateway", "HTTPRoute", "HTTPRouteCORS"],
                                "2026-01-01T00:00:00Z", "0.1.0")
    assert report["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert report["kind"] == "ConformanceReport" and report["gatewayAPIVersion"] == "v1.6.1"
    (profile,) = report["profiles"]
    assert profile["core"] == {"result": "failure", "failedTests": ["B"],
                               "statistics": {"Failed": 1, "Passed": 1, "Skipped": 0}}
    ext = profile["extended"]
    assert ext["statistics"] == {"Failed": 0, "Passed": 1, "Skipped": 1}
    assert ext["result"] == "partial" and ext["skippedTests"] == ["D"]
    assert ext["supportedFeatures"] == ["HTTPRouteCORS"]
    assert "ListenerSet" in ext["unsupportedFeatures"]
    assert profile["summary"] == ("Core tests failed with 1 test failures. Extended tests "
                                  "partially succeeded with 1 test skips.")
    assert report["succeededProvisionalTests"] == ["C"]
    assert summary_line(results) == "2 passed, 1 failed, 1 skipped"
    grpc = case("G", ["Gateway"]).__class__(**{**case("G", ["Gateway"]).__dict__,
                                              "profiles": {"GATEWAY-GRPC": "core"}})
    only_http = conformance_report([*results, CaseResult(grpc, SUCCEEDED)], [], "d", "v",
                                   profiles=["GATEWAY-HTTP"])
    assert [p["name"] for p in only_http["profiles"]] == ["GATEWAY-HTTP"]
    assert summary_line(results[:1]) == "1 passed, 0 failed"


def test_rewrite_substitutes_class_controller_and_addresses() -> None:
    rewrite = Rewrite("gateway-conformance", "propylon.dev/ctl", ("127.0.10.200",), ("192.0.2.1",))
    gateway = {"kind": "Gateway", "metadata": {"name": "g"},
               "spec": {"gatewayClassName": "{GATEWAY_CLASS_NAME}", "addresses": [
                   {"type": "test/fake-invalid-type", "value": "x"},
                   {"type": "IPAddress", "value": "PLACEHOLDER_UNUSABLE_ADDRS"},
                   {"type": "IPAddress", "value": "PLACEHOLDER_USABLE_ADDRS"}]}}
    out = rewrite.apply(gateway)
    assert out["spec"]["gatewayClassName"] == "gateway-conformance"
    assert out["spec"]["addresses"] == [{"type": "test/fake-invalid-type", "value": "x"},
                                        {"type": "IPAddress", "value": "192.0.2.1"},
                                        {"type": "IPAddress", "value": "127.0.10.200"}]
    assert gateway["spec"]["gatewayClassName"] == "{GATEWAY_CLASS_NAME}"
    gc = rewrite.apply({"kind": "GatewayClass", "spec": {"controllerName": "other"}})
    assert gc["spec"]["controllerName"] == "propylon.dev/ctl"


def _cert(obj: dict) -> x509.Certificate:
    key = "tls.crt" if obj["kind"] == "Secret" else "ca.crt"
    data = obj["data"][key]
    pem = base64.b64decode(data) if obj["kind"] == "Secret" else data.encode()
    return x509.load_pem_x509_certificate(pem)


def test_tls_material_names_sans_and_chains() -> None:
    objects = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in tls_objects()}
    infra = "gateway-conformance-infra"
    validity = _cert(objects[infra, "tls-validity-checks-certificate"])
    sans = validity.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["*.org", "*.wildcard.org"]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["*"]
    assert validity.issuer == validity.subject
    ca = _cert(objects[infra, "tls-checks-ca-certificate"])
    leaf = _cert(objects[infra, "tls-checks-certificate"])
    leaf_sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert leaf_sans.get_values_for_type(x509.DNSName) == ["abc.example.com", "other.example.com"]
    assert leaf.issuer == ca.subject
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                           leaf.signature_hash_algorithm)
    mismatch = _cert(objects[infra, "mismatch-ca-certificate"])
    assert mismatch.subject != ca.subject
    key_pem = base64.b64decode(objects[infra, "tls-checks-certificate"]["data"]["tls.key"])
    assert key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert leaf.public_key().key_size == 2048
    client = _cert(objects[infra, "tls-validity-checks-client-certificate"])
    assert client.issuer == _cert(objects[infra, "tls-validity-checks-ca-certificate"]).subject
    assert objects["gateway-conformance-app-backend", "tls-passthrough-checks-certificate"] \
        == objects[infra, "tls-passthrough-checks-certificate"] | {
            "metadata": {"namespace": "gateway-conformance-app-backend",
                         "name": "tls-passthrough-checks-certificate"}}
