"""`SnapshotCache`: the resources each Envoy node must have, and who to wake when they change.

The controller calls `set(node_id, resources)` with a fresh `XdsResources` whenever a Gateway's
IR changes, and `remove(node_id)` when the Gateway is gone. Both are plain synchronous calls
made on the event loop; each wakes every ADS stream of that node, which then compares the new
resources with what its Envoy has and pushes only the types that differ. A node that connects
before its snapshot exists simply waits for the first `set`.
"""

from __future__ import annotations

from collections.abc import Callable

from propylon.xds.translate import XdsResources

Waker = Callable[[], None]


class SnapshotCache:
    """Node id -> the `XdsResources` it must serve, with change notification."""

    def __init__(self) -> None:
        self._snapshots: dict[str, XdsResources] = {}
        self._watchers: dict[str, set[Waker]] = {}

    def set(self, node_id: str, resources: XdsResources) -> None:
        """Make `resources` the wanted state of `node_id` and wake its streams."""
        self._snapshots[node_id] = resources
        self._wake(node_id)

    def remove(self, node_id: str) -> None:
        """Forget `node_id`; its connected Envoys keep their last configuration."""
        self._snapshots.pop(node_id, None)
        self._wake(node_id)

    def get(self, node_id: str) -> XdsResources | None:
        """The wanted state of `node_id`, if any."""
        return self._snapshots.get(node_id)

    def nodes(self) -> tuple[str, ...]:
        """Every node id with a snapshot, sorted."""
        return tuple(sorted(self._snapshots))

    def watch(self, node_id: str, waker: Waker) -> Callable[[], None]:
        """Call `waker` on every change of `node_id`; returns the function that stops it."""
        self._watchers.setdefault(node_id, set()).add(waker)

        def unwatch() -> None:
            watchers = self._watchers.get(node_id)
            if watchers is not None:
                watchers.discard(waker)
                if not watchers:
                    del self._watchers[node_id]

        return unwatch

    def _wake(self, node_id: str) -> None:
        for waker in tuple(self._watchers.get(node_id, ())):
            waker()
