"""The README's ingress-nginx annotation table is the one the converters make.

The table lists all of ANNOTATIONS.md's annotations (../shared/ingress-nginx) with the status
the converters report for each (`propylon.ingress.annotationtable`). The test fails when the
README's table (between its markers) differs; `pytest tests/ingress --update-golden` rewrites
it.
"""

from __future__ import annotations

import re
from pathlib import Path

from propylon.ingress import annotationtable
from propylon.ingress.registry import CONVERTERS
from tests.shared_data import shared

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- ingress-nginx annotations: begin (tests/ingress/test_annotation_table.py) -->\n"
END = "<!-- ingress-nginx annotations: end -->\n"
_ROW = re.compile(r"^\| `([a-z0-9-]+)` \| [^|]* \| ([^|]*) \| (yes|no) \|$")


def _documented() -> list[tuple[str, str]]:
    text = shared("ingress-nginx", "ANNOTATIONS.md").read_text()
    return [(m[1], m[2].strip()) for line in text.splitlines() if (m := _ROW.match(line))]


def test_all_130_documented_annotations_are_read() -> None:
    assert len(_documented()) == 130


def test_every_annotation_of_the_registry_has_a_status_and_is_documented() -> None:
    documented = {name for name, _ in _documented()}
    assert set(annotationtable.statuses()) == set(CONVERTERS)
    assert set(annotationtable.SAMPLES) <= set(CONVERTERS), "a sample of no converter"
    assert set(CONVERTERS) - documented == set(annotationtable.ALIASES.values())
    assert set(annotationtable.ALIASES) <= documented


def test_readme_table_is_the_converters_own(update_golden: bool) -> None:
    table = annotationtable.render(_documented(), annotationtable.statuses())
    text = README.read_text()
    assert BEGIN in text and END in text, f"README.md has no {BEGIN.strip()} section"
    before, rest = text.split(BEGIN, 1)
    current, after = rest.split(END, 1)
    if update_golden:
        README.write_text(before + BEGIN + table + END + after)
    else:
        assert current == table, "run pytest tests/ingress --update-golden and read the diff"
