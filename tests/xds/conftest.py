"""Fixtures for the xDS tests: the real Envoy binary (and, below, running Envoys)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def _envoy_path() -> str:
    candidate = Path(sys.executable).parent / "envoy"
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("envoy")
    if found is None:
        raise RuntimeError("envoy binary not found next to the interpreter or on PATH")
    return found


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    """Path of the real `envoy` binary installed in the virtualenv."""
    return _envoy_path()


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
