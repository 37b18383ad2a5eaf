"""`Placements`: the routes attached to one listener, a value each pass derives from the last.

A listener's attachments are stored per route (`RouteId`: kind, namespace, name) and, for HTTP
and HTTPS listeners, per hostname: `hosts[h]` maps each route serving hostname `h` on this
listener to its translated rules (once per attachment: a route may attach twice through two
parentRefs; the routes spread over 64 buckets by their hash). A `Placements` is never changed:
`updated(changes)` gives the placements with what some routes attached here replaced, copying
the maps it changes (one bucket per route) and sharing the rest, so a pass that translated one
route again touches only that route's hostnames, and `attached` stays the count the
listener's status reports.

Every hostname whose routes change gets a new `stamps[h]` (a hostname no route serves any more
has none), drawn from one counter shared by every `Placements` of the process, so a stamp names
one content of one hostname of one listener for good, and `version` (the last stamp given) one
content of the whole listener: `gatewayir` rebuilds a virtual host only when the stamps of its
hostname on the listeners serving it differ from those it was built from. A listener is named
across passes by its `ListenerId` (its owner's kind and key, and its position there);
`memo.Memo.placements` gives a pass the `Placements` of each of its listeners: last pass's,
updated with the attachments of the routes attached again, once every route is attached."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
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
    """The attachments of one listener, by route and by hostname: a value, never changed once
    made (`updated` gives the next one)."""

    __slots__ = ("_by_route", "attached", "hosts", "stamps", "version")

    def __init__(self, by_route: tuple[dict[RouteId, tuple[Any, ...]], ...] = (),
                 hosts: dict[str, dict[RouteId, tuple[Any, ...]]] | None = None,
                 stamps: dict[str, int] | None = None, version: int = 0,
                 attached: int = 0) -> None:
        self._by_route = by_route or _NO_ROUTES  # routes spread over buckets by their hash
        self.hosts = hosts or {}
        self.stamps = stamps or {}
        self.version = version  # the last stamp given: changes whenever any hostname's routes do
        self.attached = attached

    def updated(self, changes: Mapping[RouteId, tuple[Any, ...]]) -> Placements:
        """These placements with `changes[route]` (possibly no attachment) everything `route`
        attached to this listener, for each route of `changes`. Only the maps it changes are
        copied: the bucket of each route, the hostnames and their stamps, each hostname's
        routes."""
        if not changes:
            return self
        buckets, hosts, stamps = list(self._by_route), dict(self.hosts), dict(self.stamps)
        attached = self.attached
        copied: set[int] = set()
        copied_hosts: set[str] = set()

        def bucket(route: RouteId) -> dict[RouteId, tuple[Any, ...]]:
            i = hash(route) % len(buckets)
            if i not in copied:
                copied.add(i)
                buckets[i] = dict(buckets[i])
            return buckets[i]

        def served(host: str) -> dict[RouteId, tuple[Any, ...]]:
            if host not in copied_hosts:
                copied_hosts.add(host)
                hosts[host] = dict(hosts.get(host, {}))
            return hosts[host]

        for route, attachments in changes.items():
            old = bucket(route).pop(route, ())
            attached -= len(old)
            for host in {h for a in old for h in a.hostnames}:
                routes = served(host)
                del routes[route]
                if routes:
                    stamps[host] = next(_STAMPS)
                else:
                    del hosts[host], stamps[host]
                    copied_hosts.discard(host)
            if not attachments:
                continue
            bucket(route)[route] = attachments
            attached += len(attachments)
            by_host: dict[str, list[Any]] = {}
            for a in attachments:
                for host in a.hostnames:
                    by_host.setdefault(host, []).append(a.translated)
            for host, translated in by_host.items():
                served(host)[route] = tuple(translated)
                stamps[host] = next(_STAMPS)
        return Placements(tuple(buckets), hosts, stamps, next(_STAMPS), attached)

    def routes(self) -> list[Any]:
        """Every attachment, route by route."""
        return [a for bucket in self._by_route for attachments in bucket.values()
                for a in attachments]

    def empty(self) -> bool:
        return self.attached == 0


# no route in any bucket: dictionaries shared by every `Placements` made, never changed
_NO_ROUTES: tuple[dict[RouteId, tuple[Any, ...]], ...] = tuple({} for _ in range(64))
NOWHERE = Placements()  # a listener no route attached to


__all__ = ["NOWHERE", "Attachment", "ListenerId", "Placements", "RouteId"]
