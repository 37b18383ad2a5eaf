"""The annotations that become policies: what Propylon accepts, and the behaviour that
matters, on the golden cases of `testdata/` (see `test_golden`).

Every Envoy Gateway policy any case converts to is one Propylon applies (`Policy.decode`
finds no field it does not implement), and every annotation of a case gets one report entry.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api.envoygateway import POLICY_KINDS, Policy
from propylon.ingress import MIGRATE, Conversion, Outcome, convert
from propylon.ingress.model import PREFIX

TESTDATA = Path(__file__).parent / "testdata"
CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "in.yaml").exists())


def _converted(case: str) -> tuple[list[dict[str, Any]], Conversion]:
    given = [o for o in yaml.safe_load_all((TESTDATA / case / "in.yaml").read_text()) if o]
    return given, convert(given, MIGRATE)


@pytest.mark.parametrize("case", CASES)
def test_every_policy_is_one_propylon_applies(case: str) -> None:
    _, conversion = _converted(case)
    for obj in conversion.objects:
        if obj["kind"] in POLICY_KINDS:
            assert Policy.decode(dict(obj)).problems == (), obj["metadata"]["name"]


@pytest.mark.parametrize("case", CASES)
def test_every_annotation_is_reported_once(case: str) -> None:
    given, conversion = _converted(case)
    for ingress in (o for o in given if o["kind"] == "Ingress"):
        key = f"{ingress['metadata'].get('namespace', 'default')}/{ingress['metadata']['name']}"
        names = [k for k in ingress["metadata"].get("annotations") or {} if k.startswith(PREFIX)]
        reported = [e.subject for e in conversion.report
                    if e.ingress == key and e.subject.startswith(PREFIX)]
        assert sorted(reported) == sorted(names)


def _kind(conversion: Conversion, kind: str) -> list[dict[str, Any]]:
    return [dict(o) for o in conversion.objects if o["kind"] == kind]


def test_any_origin_is_the_literal_star_on_every_response() -> None:
    _, conversion = _converted("cors-any-origin")
    (route,) = _kind(conversion, "HTTPRoute")
    (headers,) = [f["responseHeaderModifier"]["set"] for f in route["spec"]["rules"][0]["filters"]
                  if f["type"] == "ResponseHeaderModifier"]
    values = {h["name"]: h["value"] for h in headers}
    assert values["Access-Control-Allow-Origin"] == "*"
    assert values["Access-Control-Allow-Methods"] == "POST, GET"
    assert values["Access-Control-Max-Age"] == "200"
    assert values["Access-Control-Allow-Credentials"] == "true"
    assert _kind(conversion, "SecurityPolicy") == []


def test_an_origin_list_is_a_cors_policy_without_the_items_that_are_no_origin() -> None:
    _, conversion = _converted("cors-origin-list")
    (policy,) = _kind(conversion, "SecurityPolicy")
    assert policy["spec"]["cors"]["allowOrigins"] == [
        "https://origin.cors.com:8080", "http://*.origin.com:8080", "tauri://localhost:3000"]
    assert policy["spec"]["cors"]["allowCredentials"] is False


@pytest.mark.parametrize(("origin", "cors"), [
    ("http://bar.origin.cors.com", True),            # one label: allowed, as in ingress-nginx
    ("http://bar.foo.origin.cors.com", False),       # two labels: ingress-nginx refuses it
    ("http://.origin.cors.com", False),              # no label
    ("http://a.b.origin.cors.com", True),            # listed as it is
    ("https://x.origin.com:8080", True),
    ("https://x.y.origin.com:8080", False),
    ("http://unrelated.example", True),              # the CORS filter itself refuses it
])
def test_a_wildcard_origin_stands_for_one_dns_label(origin: str, cors: bool) -> None:
    _, conversion = _converted("cors-wildcard-one-label")
    (route,) = _kind(conversion, "HTTPRoute")
    assert _kind(conversion, "SecurityPolicy") == []
    for path in ("/", "/api"):
        rules = [r for r in route["spec"]["rules"] if r["matches"][0]["path"]["value"] == path]
        # among rules of one path, more header matches win; then rule order
        chosen = next(r for r in sorted(rules, key=lambda r: -len(r["matches"][0].get(
            "headers", ()))) if all(re.fullmatch(h["value"], origin)
                                    for h in r["matches"][0].get("headers", ())))
        assert any(f["type"] == "CORS" for f in chosen["filters"]) is cors
        assert any(f["type"] == "RequestHeaderModifier" for f in chosen["filters"])


def test_a_wildcard_origin_the_filter_cannot_carry_stays_a_policy() -> None:
    _, conversion = _converted("cors-origin-list")   # a tauri:// origin
    assert not [f for r in _kind(conversion, "HTTPRoute")[0]["spec"]["rules"]
                for f in r.get("filters", ()) if f["type"] == "CORS"]
    (entry,) = [e for e in conversion.report if e.subject.endswith("cors-allow-origin")]
    assert entry.outcome is Outcome.DIFFERS and "exactly one" in entry.note


def test_a_missing_secret_or_config_map_answers_503() -> None:
    for case in ("basic-auth-missing-secret", "custom-headers-missing"):
        _, conversion = _converted(case)
        (policy,) = _kind(conversion, "BackendTrafficPolicy")
        assert "503 Service Temporarily Unavailable" in str(policy["spec"]["responseOverride"])
        assert policy["spec"]["faultInjection"] == {
            "abort": {"httpStatus": 503, "percentage": 100}}


def test_only_lines_propylon_can_check_are_kept() -> None:
    _, conversion = _converted("basic-auth-file")
    (secret,) = [s for s in _kind(conversion, "Secret")
                 if s["metadata"]["name"] == "basic-auth-file-basic-auth"]
    assert base64.b64decode(secret["data"][".htpasswd"]).decode() == (
        "foo:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=\n"
        "alice:$2y$04$wHxWVFcqv1CXVBKNIqG5VO4N8ZuVD1VRZ7zGJ8MP7SQ3wBa1AdlCW\n")
    (entry,) = [e for e in conversion.report if e.subject == PREFIX + "auth-secret"]
    assert entry.outcome is Outcome.DIFFERS
    assert 'line 3 (user "bob"): a DES-crypt hash' in entry.note
