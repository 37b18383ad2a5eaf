"""Ask Envoy itself whether it accepts a configuration: `envoy --mode validate`.

`envoy_rejects(bootstrap)` writes the bootstrap (a static one, from
`propylon.xds.translate.static.static_bootstrap`) to a private temporary file, runs the Envoy
binary the proxies run (`find_envoy`) in validate mode on it (no socket is bound, no admin, no
hot restart) and returns Envoy's error message, or None when Envoy accepts it. Each run costs
Envoy's start, so `rejected(items, bootstrap_of)` checks many items in one run and bisects only
when that run is refused: it returns each refused item with Envoy's message, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from propylon.infra.host.envoy_process import find_envoy

T = TypeVar("T")
TIMEOUT_SECONDS = 120


def envoy_rejects(bootstrap: dict[str, Any], envoy: str | None = None) -> str | None:
    """Envoy's error for `bootstrap`, or None when `envoy --mode validate` accepts it."""
    with tempfile.TemporaryDirectory(prefix="propylon-validate-") as workdir:
        path = os.path.join(workdir, "bootstrap.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(bootstrap, f)
        done = subprocess.run(
            [envoy or find_envoy(), "--mode", "validate", "-c", path, "--disable-hot-restart",
             "-l", "critical", "--log-path", os.path.join(workdir, "envoy.log")],
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode == 0:
        return None
    return (done.stdout + done.stderr).strip() or f"envoy exited {done.returncode}"


def rejected(items: Sequence[T], bootstrap_of: Callable[[Sequence[T]], dict[str, Any]],
             envoy: str | None = None) -> list[tuple[T, str]]:
    """Every item Envoy refuses on its own, with Envoy's message (one run when none is)."""
    if not items:
        return []
    message = envoy_rejects(bootstrap_of(items), envoy)
    if message is None:
        return []
    if len(items) == 1:
        return [(items[0], message)]
    half = len(items) // 2
    return (rejected(items[:half], bootstrap_of, envoy)
            + rejected(items[half:], bootstrap_of, envoy))
