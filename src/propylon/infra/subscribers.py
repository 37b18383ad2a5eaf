"""`Subscribers`: the callbacks an infrastructure manager calls when its states change.

Every `InfraManager` keeps the callbacks `subscribe()` gave it in a `Subscribers`. `notify()`
calls each of them (from the event loop, in the order they subscribed); one that raises is
logged and the others are still called. `publish(states)` notifies only when `states` differs
from what the previous `publish` was given, so subscribers hear of changes, not of passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from propylon.ir.model import GatewayKey, InfraState

log = logging.getLogger(__name__)


class Subscribers:
    """Callbacks to call on a change of states; see the module docstring."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []
        self._published: dict[GatewayKey, InfraState] = {}

    def add(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def notify(self) -> None:
        """Call every callback."""
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("infra state subscriber %r failed", callback)

    def publish(self, states: Mapping[GatewayKey, InfraState]) -> None:
        """Call every callback if `states` differs from the last states published."""
        states = dict(states)
        if states == self._published:
            return
        self._published = states
        self.notify()
