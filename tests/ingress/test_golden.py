"""Golden files per annotation: `testdata/<annotation>/in.yaml` (Ingress objects and what they
refer to) converts, with `propylon migrate`'s options, to exactly `out.yaml` (the objects, as
`propylon migrate` prints them) and `report.md` (its report). Every object converted validates
against the schemas the API server serves.

Run `pytest tests/ingress --update-golden` to rewrite them, then read the diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from propylon.api.kinds import KINDS, by_api_version
from propylon.api.routefilter import RouteFilter
from propylon.api.validation import validate
from propylon.apiserver.crds import Catalog
from propylon.apiserver.objectmeta import meta_causes
from propylon.cli.output import to_yaml
from propylon.ingress import MIGRATE, convert
from propylon.ingress.report import markdown

TESTDATA = Path(__file__).parent / "testdata"
CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "in.yaml").exists())


def _converted(case: str) -> tuple[str, str, list[dict]]:
    objects = [o for o in yaml.safe_load_all((TESTDATA / case / "in.yaml").read_text()) if o]
    result = convert(objects, MIGRATE)
    out = [dict(o) for o in result.objects]
    return "---\n".join(to_yaml(o) for o in out), markdown(result.report, result.ignored), out


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    objects, report, _ = _converted(case)
    for name, got in (("out.yaml", objects), ("report.md", report)):
        path = TESTDATA / case / name
        if update_golden:
            path.write_text(got)
        assert path.exists(), f"{path} missing: run pytest tests/ingress --update-golden"
        assert got == path.read_text(), f"{case}/{name} differs"


@pytest.mark.parametrize("case", CASES)
def test_output_validates_against_served_schemas(case: str) -> None:
    """What the API server would check before storing each object: its kind is served, its
    metadata and fields are valid (the Gateway API rules, the Envoy Gateway CRDs' fields), and
    an HTTPRouteFilter has nothing Propylon refuses."""
    _, _, objects = _converted(case)
    validator = Catalog(KINDS).validator(validate)
    assert objects
    for obj in objects:
        info = by_api_version(obj["apiVersion"], obj["kind"])
        where = f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
        assert [(e.field, e.message) for e in validator(obj)] == [], where
        assert meta_causes(info, obj) == [], where
        if obj["kind"] == "HTTPRouteFilter":
            assert RouteFilter.decode(obj).problems == (), where
