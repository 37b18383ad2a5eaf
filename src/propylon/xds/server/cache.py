"""`SnapshotCache`: the resources each Envoy node must have, and who to wake when they change.

The controller calls `set(node_id, resources)` with a fresh `XdsResources` whenever a Gateway's
IR changes, and `remove(node_id)` when the Gateway is gone. Both are plain synchronous calls
made on the event loop; each wakes every ADS stream of that node, which then compares the new
resources with what its Envoy has and pushes only the resources that differ. A node that
connects before its snapshot exists simply waits for the first `set`.

`set` also gives every resource its delta xDS version (`Snapshot.versions`). A version is a hash
of the resource's serialisation, but it is computed only for messages that are new: a message
that is the very object of the node's previous snapshot (`xds.translate.Translator` returns
unchanged resources as the same objects) keeps its version, so a one-route change at 5,000
routes hashes one virtual host, not the whole table.

The way back: each ADS stream `report()`s what its Envoy refuses (`ir.Rejections`, with Envoy's
messages); `rejections()` merges the reports of every stream of a node, and the callbacks given
to `on_rejections()` (the controller's) are told when a node's merged value changes, so the
next translation writes it into status. The EnvoyPatchPolicies whose patches the xDS
translation left out of a node's resources (`XdsResources.patch_failures`) are part of that
value (`Rejections.patches`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from propylon.ir.model import Rejections
from propylon.xds.translate import XdsResources, version_of

Waker = Callable[[], None]


@dataclass(frozen=True)
class Snapshot:
    """What one node must have, with the version of each resource (type URL -> name ->
    version)."""

    resources: XdsResources
    versions: Mapping[str, Mapping[str, str]]


def versioned(resources: XdsResources, previous: Snapshot | None = None) -> Snapshot:
    """`resources` with their versions, reusing those of `previous` for identical messages."""
    versions: dict[str, dict[str, str]] = {}
    for type_url, by_name in resources.by_type.items():
        old = previous.resources.by_type[type_url] if previous is not None else {}
        old_versions = previous.versions[type_url] if previous is not None else {}
        versions[type_url] = {
            name: old_versions[name] if old.get(name) is message else version_of(message)
            for name, message in by_name.items()}
    return Snapshot(resources, versions)


class SnapshotCache:
    """Node id -> the `Snapshot` it must serve, with change notification."""

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._watchers: dict[str, set[Waker]] = {}
        self._reports: dict[str, dict[object, Rejections]] = {}
        self._rejections: dict[str, Rejections] = {}
        self._patch_failures: dict[str, Mapping[str, str]] = {}
        self._rejection_callbacks: list[Callable[[], None]] = []

    def set(self, node_id: str, resources: XdsResources) -> None:
        """Make `resources` the wanted state of `node_id` and wake its streams."""
        self._snapshots[node_id] = versioned(resources, self._snapshots.get(node_id))
        self._wake(node_id)
        if resources.patch_failures != self._patch_failures.get(node_id, {}):
            self._patch_failures[node_id] = resources.patch_failures
            self._merge(node_id)

    def remove(self, node_id: str) -> None:
        """Forget `node_id`; its connected Envoys keep their last configuration."""
        self._snapshots.pop(node_id, None)
        self._wake(node_id)
        if self._patch_failures.pop(node_id, None):
            self._merge(node_id)

    def get(self, node_id: str) -> Snapshot | None:
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

    def report(self, node_id: str, stream: object, rejections: Rejections | None) -> None:
        """What the Envoy of `stream` refuses now (None: the stream ended)."""
        reports = self._reports.setdefault(node_id, {})
        if rejections:
            reports[stream] = rejections
        else:
            reports.pop(stream, None)
        self._merge(node_id)

    def _merge(self, node_id: str) -> None:
        """Merge what the streams of `node_id` report with its patch failures; tell the
        callbacks when that changes."""
        reports = self._reports.get(node_id, {})
        refused = {f: {k: v for r in reports.values() for k, v in getattr(r, f).items()}
                   for f in ("listeners", "secrets", "clusters", "routes")}
        merged = Rejections(**refused, patches=dict(self._patch_failures.get(node_id, {})))
        if merged == self._rejections.get(node_id, Rejections()):
            return
        if merged:
            self._rejections[node_id] = merged
        else:
            self._rejections.pop(node_id, None)
        for callback in tuple(self._rejection_callbacks):
            callback()

    def rejections(self) -> dict[str, Rejections]:
        """Node id -> what its Envoys refuse, for the nodes with a refusal."""
        return dict(self._rejections)

    def on_rejections(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `rejections()` changes."""
        self._rejection_callbacks.append(callback)

    def _wake(self, node_id: str) -> None:
        for waker in tuple(self._watchers.get(node_id, ())):
            waker()
