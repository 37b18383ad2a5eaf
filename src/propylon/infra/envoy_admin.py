"""Reading an Envoy's readiness from its admin endpoint (127.0.0.1:<admin port>).

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


async def _get(session: aiohttp.ClientSession, url: str, timeout: float) -> tuple[int, str]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        return response.status, (await response.text()).strip()


async def admin_status(session: aiohttp.ClientSession, admin_port: int,
                       timeout: float = 2.0) -> AdminStatus:
    """Ask the Envoy whose admin listens on 127.0.0.1:`admin_port` how it is doing."""
    base = f"http://127.0.0.1:{admin_port}"
    try:
        status, state = await _get(session, f"{base}/ready", timeout)
        if status not in (200, 503) or not state.isupper():
            return AdminStatus(None, False, f"admin /ready answered HTTP {status}")
        status, stats = await _get(session, f"{base}{_CONNECTED_QUERY}", timeout)
    except (aiohttp.ClientError, TimeoutError) as error:
        return AdminStatus(None, False, f"admin endpoint not answering ({type(error).__name__})")
    connected = status == 200 and stats.replace(" ", "") == "control_plane.connected_state:1"
    return AdminStatus(state, connected)
