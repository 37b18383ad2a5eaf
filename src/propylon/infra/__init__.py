"""Infrastructure managers: what turns an InfraIR into running proxies.

Organised by where the proxies run: `host/` (standalone: `HostInfra`, Envoy processes on this
machine, addresses from a loopback pool, shown in the API by `MirroredInfra`) and `kubernetes/`
(`KubernetesInfra`, which creates Deployments and Services). What both use sits here: this
protocol, `subscribers` (calling back on state changes), `labels` (the labels and owner
reference of the objects written to an API) and `owners` (reading a Gateway's uid for that
reference). Nothing here imports the controller, and neither side imports the other (both are
import-linter contracts).

The controller sees only the `InfraManager` protocol: it hands over the wanted InfraIRs, reads
back one InfraState per Gateway, and is called back whenever a state changes (an Envoy became
ready, died, a port could not be bound) so that the next translation writes the truth into
status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from propylon.ir.model import GatewayKey, InfraIR, InfraState


class InfraManager(Protocol):
    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        """Converge to exactly these Gateways: start what is new, change what changed, stop
        what is gone. Returns once the change is under way, not when proxies are ready."""

    def states(self) -> Mapping[GatewayKey, InfraState]:
        """The current state of every Gateway under management."""

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the event loop) whenever `states()` changes."""

    async def close(self, stop_proxies: bool = True) -> None:
        """Stop managing; with `stop_proxies=False` the proxies keep running (to be adopted by
        the next control plane)."""
