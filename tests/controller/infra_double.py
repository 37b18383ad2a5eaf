"""An in-process InfraManager: every Gateway gets a loopback address and is ready at once.

It implements the whole `propylon.infra.InfraManager` protocol without processes, so controller
tests exercise the real reconcile loop: `apply()` records what was wanted, updates `states()` and
calls the subscribers when a state changed, as the host manager does when an Envoy gets ready.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from propylon.ir.model import GatewayKey, InfraIR, InfraState, PortState


class LoopbackInfra:
    def __init__(self, address: str = "127.0.0.10") -> None:
        self.address = address
        self.applied: list[Mapping[GatewayKey, InfraIR]] = []
        self._states: dict[GatewayKey, InfraState] = {}
        self._subscribers: list[Callable[[], None]] = []

    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        self.applied.append(dict(wanted))
        states = {
            key: InfraState(key, self.address,
                            tuple(PortState(lst.port, lst.port) for lst in ir.listeners),
                            ready=True, message="ready")
            for key, ir in wanted.items()}
        if states != self._states:
            self._states = states
            for callback in self._subscribers:
                callback()

    def states(self) -> Mapping[GatewayKey, InfraState]:
        return dict(self._states)

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.append(callback)

    async def close(self, stop_proxies: bool = True) -> None:
        pass
