"""The controller's readiness: why a replica should not get traffic now, if it should not.

`/readyz` answers 503 with these reasons, one a line, and 200 when there are none. Every replica,
leader or not, serves xDS to the proxies behind one Service, so readiness says whether this
replica serves *current* configuration, not whether it leads (as Envoy Gateway's and
controller-runtime's readiness checks do not either; leadership is in `/metrics`):

- the first reconcile over fully listed informers is not done yet;
- the xDS server is not serving;
- an informer (the controller's or the infrastructure's) has been failing for longer than
  `watch_grace_s`: it lost its list and watch and got nothing since, so this replica's view of
  the cluster, and the configuration it serves, may be stale. The grace is longer than the API
  server's bookmark interval (one minute), so a quiet watch that reconnected has shown it is
  connected by then, and a watch restart is not a reason to drop the proxies' streams.

A proxy whose replica turns unready is moved to the other one by the Service; its Envoy keeps
its configuration meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class _Informer(Protocol):
    @property
    def failing_since(self) -> float | None: ...


def unready_reasons(*, reconciles: int, xds_serving: bool,
                    informers: Mapping[str, _Informer], now: float,
                    watch_grace_s: float) -> list[str]:
    """What keeps this replica from being ready (`now`: the informers' monotonic clock)."""
    reasons = []
    if reconciles == 0:
        reasons.append("not synced: the first reconcile has not completed")
    if not xds_serving:
        reasons.append("the xDS server is not serving")
    for name, informer in sorted(informers.items()):
        since = informer.failing_since
        if since is not None and now - since > watch_grace_s:
            reasons.append(f"informer {name}: no list or watch from the API server for "
                           f"{now - since:.0f}s")
    return reasons
