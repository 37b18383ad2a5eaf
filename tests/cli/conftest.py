"""A real embedded API server in a background thread, so that the synchronous CLI (called in
this thread through `main([...])`) and the real kubectl can both talk to it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from propylon.apiserver import APIServer

KUBECTL = Path(sys.executable).parent / "kubectl"


@dataclass
class Cluster:
    kubeconfig: Path
    cache_dir: Path

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(KUBECTL), "--kubeconfig", str(self.kubeconfig),
                                 "--cache-dir", str(self.cache_dir), *args],
                                capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    loop = asyncio.new_event_loop()
    server = APIServer(tmp_path / "state", port=0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    try:
        yield Cluster(server.kubeconfig_path, tmp_path / "kube-cache")
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
