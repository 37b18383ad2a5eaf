"""Options for the translation tests: `--update-golden` rewrites `testdata/*.out.yaml`."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--update-golden` rewrites the golden files instead of comparing against them."""
    try:
        parser.addoption("--update-golden", action="store_true", default=False,
                         help="regenerate golden files under tests/**/testdata")
    except ValueError:  # already registered by another conftest
        pass


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run should rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))
