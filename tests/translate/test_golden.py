"""Golden files: `testdata/<case>.in.yaml` (resources and infrastructure state) must translate
to exactly `testdata/<case>.out.yaml` (every status written, then the IR and InfraIR).

Run `pytest tests/translate --update-golden` to rewrite them, then read the diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from propylon.translate import translate
from propylon.translate.golden import render, snapshot_of

TESTDATA = Path(__file__).parent / "testdata"
CASES = sorted(p.name.removesuffix(".in.yaml") for p in TESTDATA.glob("*.in.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    data = yaml.safe_load((TESTDATA / f"{case}.in.yaml").read_text())
    got = render(translate(snapshot_of(data)))
    out = TESTDATA / f"{case}.out.yaml"
    if update_golden:
        out.write_text(got)
    assert out.exists(), f"{out} missing: run pytest tests/translate --update-golden"
    assert got == out.read_text()
