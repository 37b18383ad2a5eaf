"""`Memo`: what one `translate()` pass keeps for the next, so a pass costs what changed.

Routes (HTTPRoute, GRPCRoute, TLSRoute) are the many objects; a pass translates only the routes
that need it (`Memo.candidates`) and keeps everything it knows of the others:

- the routes whose object is not the same Python object as last pass (the informers keep an
  unchanged object; every write makes a new one), found by identity with C loops (position by
  position when only edits happened, else dicts by `id`), plus the routes deleted since (their
  attachments and status go);
- every route, when what attachment reads besides the route changed (`attach_context`: the
  Gateways' and ListenerSets' listeners and the Namespaces' labels), or on the first pass;
- when an input of `Backends` changed (Services, ReferenceGrants, BackendTLSPolicies,
  ConfigMaps: `Memo.backends` builds a new one), the routes whose backend lookups no longer
  answer the same (`Backends.still` over each route's trace). EndpointSlices are not one:
  they change only `Endpoints` (`Memo.endpoints`), which `backends.finish_clusters` puts into
  the clusters of each Gateway's IR, keeping in `Memo.clusters` a cluster's object while its
  endpoints are unchanged;
- when the clock moved, the routes whose status holds a condition that changed in a pass
  (`conditions.changed`) and is not written yet, so it carries this pass's `now` (the controller's
  `now` is `types.WRITE_TIME`, which never moves; offline callers pass a time).

Each route has a `RouteEntry`: its decoding, reused while `spec_key` (uid, generation, labels,
annotations) holds, so writing its status does not decode it again; its translated rules, kept
with the backend lookups they made and their answers (`Backends.traced`) and reused while every
lookup answers the same; its attachment (status entries for `parents` and the listeners it
attached to), reused while the object's `object_key` (resourceVersion), its translated rules
(the same object) and the context are unchanged, or when the object changed only by our own
status write coming back with exactly what the entry gave (`_echoed`; a condition stamped by
the status writer at write time does not compare equal, so that route is attached again); and
its StatusUpdate, the same object while
its parents entries are, so the controller can tell changed statuses by identity.

Attachments are computed with no `now` (None), so the conditions that changed are known
exactly and get each pass's `now` stamped in (`conditions.stamp`). What a route
attached is kept per listener in `placements.Placements`, by `ListenerId` (owner and position,
which the context value fixes); `placements(listeners)` returns this pass's listeners'
`Placements`, which statuses count and `gatewayir` reads hostname by hostname.

Other objects are decoded through `Store`s (one per kind) keyed by `object_key`; a store keeps
the entries a pass used and drops the rest, and a pass that did not look at a store leaves it
as it was (Services are decoded only when `Backends` is built again, EndpointSlices only when
`Endpoints` is).

A memo is a plain value passed in: `translate(snapshot)` uses a fresh one (the full rebuild),
and `tests/translate/test_memo.py` proves a long-lived memo gives the same results pass after
pass. Not for concurrent passes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from propylon.translate.backends import Answers, Backends, Endpoints, Trace, same
from propylon.translate.conditions import changed, stamp
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.listenersets import SetState
from propylon.translate.parents import Attached
from propylon.translate.placements import ListenerId, Placements, RouteId
from propylon.translate.statuses import ParentStatus
from propylon.translate.types import Now, StatusUpdate

T = TypeVar("T")
Key = tuple[Hashable, ...]


def object_key(obj: dict[str, Any]) -> Key | None:
    """The cache key of `obj`; None when it has no uid or resourceVersion."""
    meta = obj.get("metadata") or {}
    uid, version = meta.get("uid"), meta.get("resourceVersion")
    if not uid or not version:
        return None
    return (obj.get("kind"), meta.get("namespace"), meta.get("name"), uid, version)


def spec_key(obj: dict[str, Any]) -> Key | None:
    """The cache key of what `obj` says besides its status (`object_key` without generation)."""
    meta = obj.get("metadata") or {}
    uid, generation = meta.get("uid"), meta.get("generation")
    if not uid or not generation:
        return object_key(obj)
    return (obj.get("kind"), meta.get("namespace"), meta.get("name"), uid, generation,
            tuple((meta.get("labels") or {}).items()),
            tuple((meta.get("annotations") or {}).items()))


def route_id(kind: str, obj: dict[str, Any]) -> RouteId:
    meta = obj.get("metadata") or {}
    return (kind, meta.get("namespace") or "", meta.get("name") or "")


class Store:
    """Entries of this pass, and of the last pass until this one uses them."""

    def __init__(self) -> None:
        self._old: dict[Key, Any] = {}
        self._live: dict[Key, Any] = {}
        self._used = False

    def get(self, key: Key | None) -> Any:
        self._used = True
        if key is None:
            return None
        found = self._live.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self._live[key] = found
        return found

    def put(self, key: Key | None, value: Any) -> None:
        self._used = True
        if key is not None:
            self._live[key] = value

    def rotate(self) -> None:
        """End of a pass: forget what it did not use, unless it did not use the store at all."""
        if self._used:
            self._old, self._live, self._used = self._live, {}, False


@dataclass
class RouteEntry:
    """What the last pass that translated one route made of it."""

    spec: Key | None = None
    decoded: Any = None
    rules: Any = None
    rules_spec: Key | None = None
    trace: Trace = ()
    checked: Backends | None = None  # the Backends the trace is known to hold for
    attached_for: tuple[Key, object, int] | None = None  # object_key, rules, context
    parents: tuple[ParentStatus, ...] = ()
    placed: dict[ListenerId, tuple[Any, ...]] = field(default_factory=dict)
    timed: bool = False  # a condition of `parents` changed: its time is stamped each pass
    stamped: tuple[Now, tuple[ParentStatus, ...]] | None = None
    update: StatusUpdate | None = None
    update_for: tuple[ParentStatus, ...] | None = None


class Memo:
    """Routes' entries and placements, decoded objects, route tables and backend answers."""

    def __init__(self) -> None:
        self._decoded: dict[Any, Store] = {}  # by kind
        self.tables = Store()  # `gatewayir.build`'s route tables
        self.clusters = Store()  # `backends.finish_clusters`'s clusters, per Gateway
        self.policies = Store()  # `policies.apply`'s governed route tables and cluster copies
        self.telemetry = Store()  # `telemetry.apply`'s listeners and clusters
        self._context: Hashable = None
        self._context_id = 0
        self._everything = True  # this pass translates every route (first pass, new context)
        self._objects: dict[str, tuple[dict[str, Any], ...]] = {}  # last pass's, per route kind
        self._entries: dict[RouteId, RouteEntry] = {}
        self._objs: dict[RouteId, dict[str, Any]] = {}  # each route's object, as last seen
        self._updates: dict[RouteId, StatusUpdate] = {}  # routes with our parents only
        self._timed: set[RouteId] = set()
        self._placements: dict[ListenerId, Placements] = {}
        self._backends: Backends | None = None
        self._backend_inputs: tuple[tuple[dict[str, Any], ...], ...] = ()
        self._recheck = False  # this pass's Backends is new: check every route's trace
        self._endpoints: Endpoints | None = None
        self._slices: tuple[dict[str, Any], ...] = ()
        self._now: Now | None = None
        self._clock_moved = False
        self.hits = 0
        self.misses = 0

    @property
    def answers(self) -> Answers:
        """The backend answers known so far."""
        return self._backends.answers if self._backends is not None else {}

    def decode(self, decode: Callable[[dict[str, Any]], T], obj: dict[str, Any],
               key: Key | None) -> T:
        """`decode(obj)`, reused while `obj` keeps its `key` (`object_key`)."""
        store = self._decoded.get(obj.get("kind"))
        if store is None:
            store = self._decoded[obj.get("kind")] = Store()
        found = store.get(key)
        if found is not None:
            self.hits += 1
            return found  # type: ignore[no-any-return]
        self.misses += 1
        value = decode(obj)
        store.put(key, value)
        return value

    def backends(self, inputs: tuple[tuple[dict[str, Any], ...], ...],
                 build: Callable[[Answers], Backends]) -> Backends:
        """Last pass's `Backends` while the objects of `inputs` are the same ones; otherwise
        `build(known answers)`, and every route's lookups are checked again this pass."""
        self._recheck = (self._backends is None or len(inputs) != len(self._backend_inputs)
                         or not all(map(same, inputs, self._backend_inputs)))
        if self._recheck:
            self._backends = build(self.answers)
            self._backend_inputs = inputs
        assert self._backends is not None
        return self._backends

    def endpoints(self, slices: tuple[dict[str, Any], ...],
                  build: Callable[[], Endpoints]) -> Endpoints:
        """Last pass's `Endpoints` while the EndpointSlices are the same objects."""
        if self._endpoints is None or not same(slices, self._slices):
            self._endpoints, self._slices = build(), slices
        return self._endpoints

    def context(self, value: Hashable, now: Now) -> int:
        """A number that stays the same from pass to pass while `value` is equal; when it
        changes, every route is translated this pass."""
        self._everything = value != self._context or self._context_id == 0
        if self._everything:
            self._context, self._context_id = value, self._context_id + 1
        self._clock_moved, self._now = now != self._now, now
        return self._context_id

    def candidates(self, kind: str, objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
        """The routes of `kind` this pass must translate (see the module docstring); routes
        gone since the last pass are dropped here."""
        changed = self._changes(kind, objects)
        if self._everything:
            return list(objects)
        extra: set[RouteId] = set()
        if self._clock_moved:
            extra.update(rid for rid in self._timed if rid[0] == kind)
        if self._recheck:
            assert self._backends is not None
            extra.update(rid for rid, e in self._entries.items()
                         if rid[0] == kind and not self._still(e, self._backends))
        extra.difference_update(route_id(kind, o) for o in changed)
        return changed + [self._objs[rid] for rid in extra if rid in self._objs]

    def _changes(self, kind: str, objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
        """The objects of `kind` that were not there last pass; routes gone are dropped. When
        the objects line up with last pass's (the informers keep them in name order, so only
        edits), the edited ones are found by comparing position by position, in C."""
        old = self._objects.get(kind, ())
        self._objects[kind] = objects
        if old is objects:
            return []
        if len(old) == len(objects):
            moved = _falses(list(map(operator.is_, old, objects)))
            if all(route_id(kind, old[i]) == route_id(kind, objects[i]) for i in moved):
                changed = [objects[i] for i in moved]
                for o in changed:
                    self._objs[route_id(kind, o)] = o
                return changed
        old_by_id = dict(zip(map(id, old), old, strict=True))
        by_id = dict(zip(map(id, objects), objects, strict=True))
        changed = [by_id[i] for i in by_id.keys() - old_by_id.keys()]
        kept = {route_id(kind, o) for o in changed}
        for i in old_by_id.keys() - by_id.keys():
            if (rid := route_id(kind, old_by_id[i])) not in kept:
                self._drop(rid)
        for o in changed:
            self._objs[route_id(kind, o)] = o
        return changed

    def entry(self, kind: str, obj: dict[str, Any]) -> tuple[RouteId, RouteEntry]:
        rid = route_id(kind, obj)
        self._objs[rid] = obj
        found = self._entries.get(rid)
        if found is None:
            found = self._entries[rid] = RouteEntry()
        return rid, found

    def decode_route(self, entry: RouteEntry, decode: Callable[[dict[str, Any]], T],
                     obj: dict[str, Any]) -> T:
        """`decode(obj)`, reused while the route keeps its `spec_key`."""
        spec = spec_key(obj)
        if spec is not None and entry.spec == spec and entry.decoded is not None:
            self.hits += 1
            return entry.decoded  # type: ignore[no-any-return]
        self.misses += 1
        entry.spec, entry.decoded = spec, decode(obj)
        return entry.decoded  # type: ignore[no-any-return]

    def rules(self, entry: RouteEntry, backends: Backends, translate: Callable[[], T]) -> T:
        """`translate()` of the route, reused while its backend lookups answer the same."""
        if (entry.rules is not None and entry.spec is not None and entry.rules_spec == entry.spec
                and self._still(entry, backends)):
            self.hits += 1
            return entry.rules  # type: ignore[no-any-return]
        self.misses += 1
        entry.rules, entry.trace = backends.traced(translate)
        entry.rules_spec, entry.checked = entry.spec, backends
        return entry.rules  # type: ignore[no-any-return]

    def attach(self, rid: RouteId, entry: RouteEntry, obj: dict[str, Any], translated: object,
               context: int, now: Now,
               run: Callable[..., Attached]) -> tuple[ParentStatus, ...]:
        """The status entries of `run(now=None)` (a route kind's `attach`), or of its last
        outcome; `now` stamped in either way. Placements follow the outcome."""
        key = object_key(obj)
        wanted = None if key is None else (key, translated, context)
        last = entry.attached_for
        if wanted is not None and last is not None and last[0] == key and last[1] is translated \
                and last[2] == context:
            self.hits += 1
        elif wanted is not None and last is not None and last[1] is translated \
                and last[2] == context and (given := _echoed(obj, entry)) is not None:
            self.hits += 1  # our own status write came back: attaching again gives what it holds
            entry.parents, entry.attached_for, entry.timed, entry.stamped = given, wanted, False, None
        else:
            self.misses += 1
            attached = run(now=None)
            entry.parents, entry.attached_for, entry.stamped = attached.parents, wanted, None
            entry.timed = changed(entry.parents)
            by_listener: dict[ListenerId, list[Any]] = {}
            for ls, attachment in attached.placed:
                by_listener.setdefault(ls.at, []).append(attachment)
            self._place(rid, entry, {at: tuple(v) for at, v in by_listener.items()})
        if entry.timed:
            self._timed.add(rid)
        else:
            self._timed.discard(rid)
            return entry.parents
        if entry.stamped is None or entry.stamped[0] != now:
            entry.stamped = (now, stamp(entry.parents, now))
        return entry.stamped[1]

    def update(self, rid: RouteId, entry: RouteEntry, parents: tuple[ParentStatus, ...],
               make: Callable[[], StatusUpdate]) -> None:
        """Keep `make()` (the route's StatusUpdate), the same object while `parents` is; a
        route with no parent of ours has none."""
        if not parents:
            self._updates.pop(rid, None)
            return
        if entry.update is None or entry.update_for is not parents:
            entry.update, entry.update_for = make(), parents
        self._updates[rid] = entry.update

    def route_statuses(self) -> tuple[StatusUpdate, ...]:
        """The StatusUpdate of every route with a parent of ours."""
        return tuple(self._updates.values())

    def placements(self, listeners: Iterable[ListenerId]) -> dict[ListenerId, Placements]:
        """The routes attached to each of this pass's `listeners`, once every route of the pass
        is attached; empty placements of listeners that are gone are forgotten."""
        out = {}
        for at in listeners:
            found = self._placements.get(at)
            if found is None:
                found = self._placements[at] = Placements()
            out[at] = found
        for at in [a for a, p in self._placements.items() if p.empty() and a not in out]:
            del self._placements[at]
        return out

    def pass_done(self) -> None:
        """Forget the decoded objects, route tables and clusters this pass did not use."""
        for store in (*self._decoded.values(), self.tables, self.clusters, self.policies,
                      self.telemetry):
            store.rotate()

    def _still(self, entry: RouteEntry, backends: Backends) -> bool:
        if entry.checked is backends:
            return True
        if backends.still(entry.trace):
            entry.checked = backends
            return True
        return False

    def _place(self, rid: RouteId, entry: RouteEntry,
               placed: dict[ListenerId, tuple[Any, ...]]) -> None:
        for at in entry.placed.keys() - placed.keys():
            self._placements[at].put(rid, ())
        for at, attachments in placed.items():
            if entry.placed.get(at) != attachments:
                self._placements.setdefault(at, Placements()).put(rid, attachments)
        entry.placed = placed

    def _drop(self, rid: RouteId) -> None:
        entry = self._entries.pop(rid, None)
        if entry is not None:
            self._place(rid, entry, {})
        self._objs.pop(rid, None)
        self._updates.pop(rid, None)
        self._timed.discard(rid)


def attach_context(gateways: Mapping[tuple[str, str], GatewayState],
                   sets: Mapping[tuple[str, str], SetState],
                   namespace_labels: Mapping[str, dict[str, str]], controller: str) -> Hashable:
    """Everything route attachment reads besides the route itself, as one comparable value."""
    def listeners(items: list[ListenerState]) -> tuple[Hashable, ...]:
        return tuple((ls.spec, ls.usable, ls.supported_kinds) for ls in items)

    return (controller,
            tuple((k, listeners(g.listeners)) for k, g in sorted(gateways.items())),
            tuple((k, s.accepted, listeners(s.listeners)) for k, s in sorted(sets.items())),
            tuple(sorted((n, tuple(sorted(labels.items())))
                         for n, labels in namespace_labels.items())))


def _echoed(obj: dict[str, Any], entry: RouteEntry) -> tuple[ParentStatus, ...] | None:
    """What the entry last gave, when `obj`'s status holds exactly that as our controller's
    entries (the status writer wrote it); otherwise None. Attachment reads the status only to
    keep the lastTransitionTime of conditions that did not change, so attaching again would
    give it."""
    if entry.timed and entry.stamped is None:
        return None
    given = entry.stamped[1] if entry.timed and entry.stamped else entry.parents
    if not given:
        return given
    controller = given[0].controller_name
    written = [p for p in (obj.get("status") or {}).get("parents") or ()
               if isinstance(p, dict) and p.get("controllerName") == controller]
    return given if written == [p.to_json() for p in given] else None


def _falses(flags: list[bool]) -> list[int]:
    """The positions of False in `flags` (each found by a scan in C)."""
    out: list[int] = []
    try:
        while True:
            out.append(flags.index(False, out[-1] + 1 if out else 0))
    except ValueError:
        return out


__all__ = ["Memo", "Store", "attach_context", "object_key", "spec_key"]
