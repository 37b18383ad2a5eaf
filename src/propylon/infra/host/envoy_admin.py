"""Talking to an Envoy's admin interface on its Unix socket, and reading its readiness there.

`admin_session(socket)` is an aiohttp session whose requests (`session.get("/ready")`) go to the
admin socket (standalone Envoys serve admin on a Unix socket only their owner can reach, see
`private_sockets`); `admin_get(socket, path)` is a one-off request.

Two requests give the facts readiness needs:
- `GET /ready`: 200 with body `LIVE` once the server is initialized, else 503 with
  `PRE_INITIALIZING`, `INITIALIZING` or `DRAINING`. Envoy stays (PRE_)INITIALIZING until its
  first ADS round has delivered listeners and clusters, or until the initial fetch timeouts
  (15 s each for CDS and LDS) expire without a control plane. (The `server.state` stat is only
  refreshed on the stats flush interval, so it lags and is not used.)
- `GET /stats?filter=^control_plane\\.connected_state$`: 1 while the ADS stream is up.

A proxy is *ready* when it is LIVE and connected: it then serves the configuration the control
plane sent. LIVE but disconnected means either the initial fetch timed out with no control plane
(Envoy serves nothing) or the control plane went away (Envoy keeps serving its last good
configuration, but changes cannot reach it); both are reported as not ready with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

_CONNECTED_QUERY = "/stats?filter=%5Econtrol_plane%5C.connected_state%24"


@dataclass(frozen=True)
class AdminStatus:
    """What the admin endpoint said; `state` is None when it did not answer."""

    state: str | None
    connected: bool
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "LIVE" and self.connected


ADMIN_ORIGIN = "http://envoy-admin"  # a Unix socket has no host; Envoy ignores this one


def admin_session(socket: Path) -> aiohttp.ClientSession:
    """A session whose requests for paths (`/ready`) go to the admin Unix socket `socket`."""
    return aiohttp.ClientSession(ADMIN_ORIGIN, connector=aiohttp.UnixConnector(path=str(socket)))


async def _get(session: aiohttp.ClientSession, path: str, timeout: float) -> tuple[int, str]:
    async with session.get(path, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        return response.status, (await response.text()).strip()


async def admin_get(socket: Path, path: str, timeout: float = 10.0) -> tuple[int, str]:
    """(HTTP status, body without surrounding whitespace) of GET `path` on the admin socket."""
    async with admin_session(socket) as session:
        return await _get(session, path, timeout)


async def admin_status(session: aiohttp.ClientSession, timeout: float = 2.0) -> AdminStatus:
    """Ask the Envoy whose admin `session` reaches (see `admin_session`) how it is doing."""
    try:
        status, state = await _get(session, "/ready", timeout)
        if status not in (200, 503) or not state.isupper():
            return AdminStatus(None, False, f"admin /ready answered HTTP {status}")
        status, stats = await _get(session, _CONNECTED_QUERY, timeout)
    except (aiohttp.ClientError, TimeoutError) as error:
        return AdminStatus(None, False, f"admin endpoint not answering ({type(error).__name__})")
    connected = status == 200 and stats.replace(" ", "") == "control_plane.connected_state:1"
    return AdminStatus(state, connected)
