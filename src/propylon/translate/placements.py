"""`Placements`: the routes attached to one listener, kept from one translation pass to the next.

A listener's attachments are stored per route (`RouteId`: kind, namespace, name) and, for HTTP
and HTTPS listeners, per hostname: `hosts[h]` maps each route serving hostname `h` on this
listener to its translated rules (once per attachment: a route may attach twice through two
parentRefs). `put(route, attachments)` replaces what one route attached here, so a pass that
translated one route again touches only that route's hostnames, and `attached` stays the count
the listener's status reports.

Every hostname whose routes change gets a new `stamps[h]` (a hostname no route serves any more
has none), drawn from one counter shared by every `Placements` of the process, so a stamp names
one content of one hostname of one listener for good, and `version` (the last stamp given) one
content of the whole listener: `gatewayir` rebuilds a virtual host only when the stamps of its hostname on the
listeners serving it differ from those it was built from. A listener is named across passes by
its `ListenerId` (its owner's kind and key, and its position there); `memo.Memo.placements` gives
a pass the `Placements` of each of its listeners once every route is attached.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

RouteId = tuple[str, str, str]  # kind, namespace, name
# a listener: "Gateway" or "ListenerSet", the owner's (namespace, name), the listener's index
ListenerId = tuple[str, tuple[str, str], int]

_STAMPS = itertools.count(1)


class Attachment(Protocol):
    """What every route kind's attachment has: the hostnames it serves and its translation."""

    @property
    def hostnames(self) -> tuple[str, ...]: ...

    @property
    def translated(self) -> Any: ...


class Placements:
    """The attachments of one listener, by route and by hostname."""

    def __init__(self) -> None:
        self._by_route: dict[RouteId, tuple[Any, ...]] = {}
        self.hosts: dict[str, dict[RouteId, tuple[Any, ...]]] = {}
        self.stamps: dict[str, int] = {}
        self.version = 0  # the last stamp given: changes whenever any hostname's routes do
        self.attached = 0

    def put(self, route: RouteId, attachments: tuple[Any, ...]) -> None:
        """Make `attachments` (possibly none) everything `route` attached to this listener."""
        old = self._by_route.pop(route, ())
        self.attached -= len(old)
        for host in {h for a in old for h in a.hostnames}:
            served = self.hosts[host]
            del served[route]
            if served:
                self.stamps[host] = next(_STAMPS)
            else:
                del self.hosts[host], self.stamps[host]
        self.version = next(_STAMPS)
        if not attachments:
            return
        self._by_route[route] = attachments
        self.attached += len(attachments)
        by_host: dict[str, list[Any]] = {}
        for a in attachments:
            for host in a.hostnames:
                by_host.setdefault(host, []).append(a.translated)
        for host, translated in by_host.items():
            self.hosts.setdefault(host, {})[route] = tuple(translated)
            self.stamps[host] = self.version = next(_STAMPS)

    def routes(self) -> list[Any]:
        """Every attachment, route by route."""
        return [a for attachments in self._by_route.values() for a in attachments]

    def empty(self) -> bool:
        return not self._by_route


__all__ = ["Attachment", "ListenerId", "Placements", "RouteId"]
