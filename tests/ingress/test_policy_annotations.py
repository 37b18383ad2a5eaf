"""The annotations that become policies: golden files per annotation, and Propylon accepts
every policy the conversion emits.

Each `testdata/policies/<case>.in.yaml` gives an Ingress's annotations (short names) and the
Secrets and ConfigMaps they name (in the Ingress's namespace `default` unless written
`namespace/name`); `<case>.out.yaml` holds the manifests, the response headers and the report
notes the conversion makes of them. Run `pytest tests/ingress --update-golden` to rewrite them,
then read the diff like code.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api.envoygateway import POLICY_KINDS, Policy
from propylon.ingress import MIGRATE, Conversion, Outcome, convert
from propylon.ingress.model import PREFIX

DATA = Path(__file__).parent / "testdata" / "policies"
CASES = sorted(p.name.removesuffix(".in.yaml") for p in DATA.glob("*.in.yaml"))
NAMESPACE = "default"


def _objects(given: dict[str, Any]) -> list[dict[str, Any]]:
    """The Ingress `web` of the case's annotations, its Service, and the Secrets and
    ConfigMaps the case gives."""
    def meta(ref: str) -> dict[str, str]:
        namespace, _, name = ref.rpartition("/")
        return {"name": name, "namespace": namespace or NAMESPACE}

    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
         "spec": {"ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {**meta("web"), "annotations": {
             PREFIX + k: v for k, v in given["annotations"].items()}},
         "spec": {"rules": [{"host": "web.example", "http": {"paths": [{
             "path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}]
    out += [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta(ref),
             "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
            for ref, data in (given.get("secrets") or {}).items()]
    out += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(ref), "data": data}
            for ref, data in (given.get("configMaps") or {}).items()]
    return out


def _converted(case: str) -> tuple[dict[str, Any], Conversion]:
    given = yaml.safe_load((DATA / f"{case}.in.yaml").read_text())
    return given, convert(_objects(given), MIGRATE)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    _, conversion = _converted(case)
    rendered = yaml.safe_dump({
        "objects": [dict(o) for o in conversion.objects if o["kind"] != "Gateway"],
        "report": [{"annotation": e.subject.removeprefix(PREFIX), "outcome": str(e.outcome),
                    "note": e.note} for e in conversion.report
                   if e.subject.startswith(PREFIX)]}, sort_keys=False, width=100)
    out = DATA / f"{case}.out.yaml"
    if update_golden:
        out.write_text(rendered)
    assert out.exists(), f"{out} missing: run pytest tests/ingress --update-golden"
    assert rendered == out.read_text()


@pytest.mark.parametrize("case", CASES)
def test_every_annotation_is_reported_and_every_policy_is_accepted(case: str) -> None:
    given, conversion = _converted(case)
    reported = [e.subject.removeprefix(PREFIX) for e in conversion.report
                if e.subject.startswith(PREFIX)]
    assert sorted(reported) == sorted(given["annotations"]), "one entry per annotation met"
    for obj in conversion.objects:
        if obj["kind"] in POLICY_KINDS:
            assert Policy.decode(dict(obj)).problems == ()


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


def test_a_missing_secret_or_config_map_answers_503() -> None:
    for case in ("basic-auth-missing-secret", "custom-headers-missing"):
        _, conversion = _converted(case)
        (policy,) = _kind(conversion, "BackendTrafficPolicy")
        assert "503 Service Temporarily Unavailable" in str(policy["spec"]["responseOverride"])
        assert policy["spec"]["faultInjection"] == {
            "abort": {"httpStatus": 503, "percentage": 100}}


def test_only_lines_envoy_can_check_are_kept() -> None:
    _, conversion = _converted("basic-auth-file")
    (secret,) = [s for s in _kind(conversion, "Secret") if s["metadata"]["name"] == "web-basic-auth"]
    assert base64.b64decode(secret["data"][".htpasswd"]).decode() == \
        "foo:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=\n"
    (entry,) = [e for e in conversion.report if e.subject == PREFIX + "auth-secret"]
    assert entry.outcome is Outcome.DIFFERS and "alice" in entry.note
