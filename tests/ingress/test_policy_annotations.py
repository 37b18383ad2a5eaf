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
from propylon.ingress import policyannotations
from propylon.ingress.policyparts import CONVERTED, DIFFERS, REFUSED, Converted
from propylon.ingress.policyvalues import PREFIX

DATA = Path(__file__).parent / "testdata" / "policies"
CASES = sorted(p.name.removesuffix(".in.yaml") for p in DATA.glob("*.in.yaml"))
NAMESPACE = "default"


def _converted(case: str) -> tuple[dict[str, Any], Converted]:
    given = yaml.safe_load((DATA / f"{case}.in.yaml").read_text())

    def keyed(raw: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, str]]:
        out = {}
        for ref, data in (raw or {}).items():
            namespace, _, name = ref.rpartition("/")
            out[(namespace or NAMESPACE, name)] = data
        return out

    annotations = {PREFIX + k: v for k, v in given["annotations"].items()}
    return given, policyannotations.convert(annotations, NAMESPACE, "web",
                                             keyed(given.get("secrets")),
                                             keyed(given.get("configMaps")))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    _, converted = _converted(case)
    rendered = yaml.safe_dump({
        "manifests": policyannotations.manifests(converted, NAMESPACE, "web", ["web"]),
        "responseHeaders": [list(h) for h in converted.response_headers],
        "notes": [{"annotation": n.annotation, "outcome": n.outcome, "message": n.message}
                  for n in converted.notes]}, sort_keys=False, width=100)
    out = DATA / f"{case}.out.yaml"
    if update_golden:
        out.write_text(rendered)
    assert out.exists(), f"{out} missing: run pytest tests/ingress --update-golden"
    assert rendered == out.read_text()


@pytest.mark.parametrize("case", CASES)
def test_every_annotation_is_reported_and_every_policy_is_accepted(case: str) -> None:
    given, converted = _converted(case)
    reported = [n.annotation for n in converted.notes]
    assert sorted(reported) == sorted(given["annotations"]), "one note per annotation met"
    assert {n.outcome for n in converted.notes} <= {CONVERTED, DIFFERS, REFUSED}
    for manifest in policyannotations.manifests(converted, NAMESPACE, "web", ["web"]):
        if manifest["kind"] in POLICY_KINDS:
            assert Policy.decode(manifest).problems == ()


def test_any_origin_is_the_literal_star_on_every_response() -> None:
    _, converted = _converted("cors-any-origin")
    headers = dict(converted.response_headers)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "POST, GET"
    assert headers["Access-Control-Max-Age"] == "200"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert converted.policies == ()


def test_a_missing_secret_or_config_map_answers_503() -> None:
    for case in ("basic-auth-missing-secret", "custom-headers-missing"):
        _, converted = _converted(case)
        specs = [p.value() for p in converted.policies]
        assert specs == [{"faultInjection": {"abort": {"httpStatus": 503, "percentage": 100}}}]


def test_only_lines_envoy_can_check_are_kept() -> None:
    _, converted = _converted("basic-auth-file")
    secret = yaml.safe_load(converted.objects[0])
    assert base64.b64decode(secret["data"][".htpasswd"]).decode() == \
        "foo:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=\n"
    assert any("alice" in n.message and n.outcome == DIFFERS for n in converted.notes)
