"""The shutdown manager of a proxy pod: drains Envoy before the kubelet sends it SIGTERM.

`drain()` is the sidecar's preStop hook (`propylon proxy-shutdown-manager drain`, see
`lifecycle`), run inside the pod against Envoy's admin on loopback:
1. POST /healthcheck/fail: the readiness listener answers 503, so the readiness probe fails and
   the pod leaves the Service's endpoints; Envoy closes HTTP connections after their current
   request (Connection: close, HTTP/2 GOAWAY);
2. POST /drain_listeners?graceful: the listeners drain for Envoy's --drain-time-s, accepting
   the connections that still arrive while endpoints are updated;
3. wait `min_drain_s`, then until `server.total_connections` is 0 or `drain_timeout_s` passed;
4. write the drained file, which releases the Envoy container's own preStop hook.
An admin that does not answer (Envoy already gone) ends the wait early; the file is always
written, so the pod never waits past the drain for its hooks.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)
POLL_S = 0.5


def _admin(admin: str, method: str, path: str) -> str:
    request = urllib.request.Request(admin + path, method=method, data=b"" if method == "POST"
                                     else None)
    with urllib.request.urlopen(request, timeout=2) as response:
        return str(response.read().decode())


def total_connections(admin: str) -> int:
    """Envoy's `server.total_connections` gauge (downstream connections of every listener)."""
    text = _admin(admin, "GET", "/stats?filter=%5Eserver%5C.total_connections%24")
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "server.total_connections":
            return int(value.strip())
    raise ValueError("server.total_connections missing from Envoy's stats")


def drain(admin: str, drained_file: Path, min_drain_s: float, drain_timeout_s: float) -> int:
    """The drain sequence (module docstring); the connections left when it ended."""
    left = 0
    try:
        _admin(admin, "POST", "/healthcheck/fail")
        _admin(admin, "POST", "/drain_listeners?graceful")
        log.info("draining: readiness failed, listeners draining")
        time.sleep(min_drain_s)
        deadline = time.monotonic() + max(0.0, drain_timeout_s - min_drain_s)
        while (left := total_connections(admin)) > 0 and time.monotonic() < deadline:
            time.sleep(POLL_S)
        log.info("drained: %d connections left", left)
    except (OSError, urllib.error.URLError, ValueError) as err:
        log.warning("drain ended early: Envoy's admin did not answer (%s)", err)
    finally:
        drained_file.parent.mkdir(parents=True, exist_ok=True)
        drained_file.write_text(str(left))
    return left


