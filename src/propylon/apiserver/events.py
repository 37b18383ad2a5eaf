"""In-memory fan-out of changes to watchers, with a bounded history for resuming watches.

Every stored change becomes an `Event` (its resourceVersion, type, the object and the object
before the change). The hub keeps the last `history` events; `subscribe(kind, since)` returns the
retained events newer than `since` plus a queue that receives every later one, taken in one step
of the event loop so nothing falls in between. A watch from a resourceVersion older than the
history covers raises `Expired`, which the watch turns into a 410 Gone ERROR event, as a real
API server does once etcd has compacted. After a restart the history starts empty, so a watch
from before the restart gets 410 and its informer relists.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    resource_version: int
    type: str  # ADDED | MODIFIED | DELETED
    kind: str  # storage key of the resource, e.g. "gateways.gateway.networking.k8s.io"
    object: dict[str, Any]
    old: dict[str, Any] | None


class Expired(Exception):
    """The requested resourceVersion is older than the retained history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class EventHub:
    """Publishes events to subscribers; `None` on a queue means the server is stopping."""

    def __init__(self, history: int, resource_version: int) -> None:
        self._log: deque[Event] = deque(maxlen=max(history, 1))
        # every event newer than this resourceVersion is in the log
        self._complete_after = resource_version
        self._queues: dict[asyncio.Queue[Event | None], str] = {}

    def publish(self, event: Event) -> None:
        if len(self._log) == self._log.maxlen:
            self._complete_after = self._log[0].resource_version
        self._log.append(event)
        for queue, kind in self._queues.items():
            if kind == event.kind:
                queue.put_nowait(event)

    def subscribe(self, kind: str, since: int | None
                  ) -> tuple[list[Event], asyncio.Queue[Event | None]]:
        """Retained events of `kind` newer than `since` (none if `since` is None), and a queue
        of the following ones. Raises Expired if events after `since` were dropped."""
        replay: list[Event] = []
        if since is not None:
            if since < self._complete_after:
                raise Expired(since, self._complete_after + 1)
            replay = [e for e in self._log if e.kind == kind and e.resource_version > since]
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues[queue] = kind
        return replay, queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queues.pop(queue, None)

    def close(self) -> None:
        """Tell every watcher to finish."""
        for queue in self._queues:
            queue.put_nowait(None)
