"""Options and fixtures shared by every test folder: `--update-golden` rewrites the golden files
(`tests/translate/testdata`, `tests/xds/testdata`) instead of comparing against them;
`kube_client` is a lightkube client of an embedded API server started for the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from propylon.apiserver import APIServer
from propylon.client import KubeClient, load_client


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="regenerate golden files under tests/**/testdata")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run should rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
async def kube_client(tmp_path: Path) -> AsyncIterator[KubeClient]:
    """A `KubeClient` of an embedded API server (built-in kinds, no validator) whose state
    is in `tmp_path/api`; both are closed after the test."""
    server = APIServer(tmp_path / "api")
    await server.start()
    client = load_client(server.kubeconfig_path)
    yield client
    await client.close()
    await server.stop()
