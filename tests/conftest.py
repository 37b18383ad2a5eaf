"""Options shared by every test folder: `--update-golden` rewrites the golden files
(`tests/translate/testdata`, `tests/xds/testdata`) instead of comparing against them."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="regenerate golden files under tests/**/testdata")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run should rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))
