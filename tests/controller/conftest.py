"""Fixtures for controller tests: the failure-injecting fake API and a lightkube client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from propylon.client import KubeClient, load_client
from tests.controller.fakeapi import FakeAPI


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeAPI]:
    api = FakeAPI()
    await api.start(tmp_path)
    yield api
    await api.stop()


@pytest.fixture
async def fake_client(fake: FakeAPI) -> AsyncIterator[KubeClient]:
    client = load_client(fake.kubeconfig)
    yield client
    await client.close()
