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

Each route's work is three functions of explicit inputs, each result a frozen value kept per
route and reused while its inputs are the same:

- `Decoded`: the route decoded, keyed on its `spec_key` (uid, generation, labels,
  annotations), so writing its status does not decode it again;
- `Rules`: its translated rules, keyed on that `Decoded` (by identity) and on the backend
  lookups they made with their answers (`Backends.traced`): reused while every lookup answers
  the same (`Backends.still`; `checked` is the `Backends` last found to, an identity check);
- `RouteAttachment`: its status entries (with no `now`, so the conditions that changed are known
  exactly) and its attachments per listener, keyed on the object's `object_key`
  (resourceVersion), its `Rules` (by identity) and the attachment context (`attach_context`,
  numbered by `Memo.context`). The object changed only by our own status write coming back with
  exactly what the route was given is the same input (`_echoed`: attachment reads the status
  only for the lastTransitionTime of conditions that did not change; a condition stamped by the
  status writer at write time does not compare equal, so that route is attached again).

The entries of an attachment whose conditions changed (`timed`) get each pass's `now` stamped
in (`conditions.stamp`), kept as `Stamped`, keyed on those entries (by identity) and `now`; a
route's StatusUpdate is the same object while its entries are (it holds them), so the
controller can tell changed statuses by identity.

`placements.Placements`, per `ListenerId` (owner and position, which the context value fixes),
are the cached attachments grouped by listener: each pass's are last pass's values updated
with the difference between the old and new `RouteAttachment` of the routes attached again or
gone (`Placements.updated`, a new value), so a pass costs the routes it translated;
`placements(listeners)` returns this pass's listeners' `Placements`, which statuses count and
`gatewayir` reads hostname by hostname.

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
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from propylon.translate.backends import Answers, Backends, Endpoints, Trace, same
from propylon.translate.conditions import changed, stamp
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.listenersets import SetState
from propylon.translate.parents import Attached
from propylon.translate.placements import NOWHERE, Attachment, ListenerId, Placements, RouteId
from propylon.translate.statuses import ParentStatus, RouteStatus
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


@dataclass(frozen=True, slots=True)
class Decoded(Generic[T]):
    """A route decoded, for the `spec_key` it was decoded from (None: never reused)."""

    spec: Key | None
    route: T


@dataclass(frozen=True, slots=True)
class Rules:
    """A route's translated rules, for the `Decoded` they were translated from (by identity),
    with the backend lookups they made and their answers (`trace`), and the `Backends` known to
    answer every one of them the same (`checked`)."""

    decoded: Decoded[Any]
    rules: object
    trace: Trace
    checked: Backends


@dataclass(frozen=True, slots=True)
class RouteAttachment:
    """A route's attachment with no time, for the object (`object_key`), the rules (by
    identity) and the attachment context it was made from (`key`; None: never reused): its
    status entries, its attachments per listener, and whether a condition of the entries
    changed (`timed`: each pass's time is stamped into it)."""

    key: tuple[Key, object, int] | None
    parents: tuple[ParentStatus, ...]
    placed: Mapping[ListenerId, tuple[Attachment, ...]]
    timed: bool

    def made_for(self, translated: object, context: int) -> Key | None:
        """The `object_key` this was made for, when it was made from these rules and context."""
        if self.key is None or self.key[1] is not translated or self.key[2] != context:
            return None
        return self.key[0]


@dataclass(frozen=True, slots=True)
class Stamped:
    """A `RouteAttachment`'s `parents` (by identity: `of`) with a pass's `now` stamped in."""

    of: tuple[ParentStatus, ...]
    now: Now
    parents: tuple[ParentStatus, ...]


class Memo:
    """Per-route caches (decoding, rules, attachment, stamped entries, StatusUpdate) keyed on
    their inputs; the placements their attachments make; decoded objects, route tables and
    backend answers."""

    def __init__(self) -> None:
        self._decoded: dict[object, Store] = {}  # by kind
        self.tables = Store()  # `gatewayir.build`'s route tables
        self.clusters = Store()  # `backends.finish_clusters`'s clusters, per Gateway
        self.policies = Store()  # `policies.apply`'s governed route tables and cluster copies
        self.telemetry = Store()  # `telemetry.apply`'s listeners and clusters
        self._context: Hashable = None
        self._context_id = 0
        self._everything = True  # this pass translates every route (first pass, new context)
        self._objects: dict[str, tuple[dict[str, Any], ...]] = {}  # last pass's, per route kind
        self._objs: dict[RouteId, dict[str, Any]] = {}  # each route's object, as last seen
        self._decodings: dict[RouteId, Decoded[Any]] = {}
        self._rules: dict[RouteId, Rules] = {}
        self._attachments: dict[RouteId, RouteAttachment] = {}
        self._stamped: dict[RouteId, Stamped] = {}  # the timed routes' last stamping
        self._updates: dict[RouteId, StatusUpdate] = {}  # routes with our parents only
        self._placements: dict[ListenerId, Placements] = {}  # last pass's, by listener
        # what routes attached since `_placements`, by listener
        self._moved: dict[ListenerId, dict[RouteId, tuple[Attachment, ...]]] = {}
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
            extra.update(rid for rid in self._stamped if rid[0] == kind)
        if self._recheck:
            assert self._backends is not None
            extra.update(rid for rid, r in self._rules.items()
                         if rid[0] == kind and not self._still(rid, r, self._backends))
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

    def seen(self, kind: str, obj: dict[str, Any]) -> RouteId:
        """The id of the route `obj` this pass translates; `obj` is its object now."""
        rid = route_id(kind, obj)
        self._objs[rid] = obj
        return rid

    def decode_route(self, rid: RouteId, decode: Callable[[dict[str, Any]], T],
                     obj: dict[str, Any]) -> Decoded[T]:
        """`decode(obj)`, reused while the route keeps its `spec_key`."""
        spec = spec_key(obj)
        found = self._decodings.get(rid)
        if spec is not None and found is not None and found.spec == spec:
            self.hits += 1
            return found
        self.misses += 1
        found = self._decodings[rid] = Decoded(spec, decode(obj))
        return found

    def rules(self, rid: RouteId, decoded: Decoded[Any], backends: Backends,
              translate: Callable[[], T]) -> T:
        """`translate()` of the route `decoded`, reused while it is the same decoding and its
        backend lookups answer the same."""
        found = self._rules.get(rid)
        if found is not None and found.decoded is decoded and self._still(rid, found, backends):
            self.hits += 1
            return found.rules  # type: ignore[return-value]
        self.misses += 1
        rules, trace = backends.traced(translate)
        self._rules[rid] = Rules(decoded, rules, trace, backends)
        return rules

    def attach(self, rid: RouteId, obj: dict[str, Any], translated: object, context: int,
               now: Now, run: Callable[..., Attached]) -> tuple[ParentStatus, ...]:
        """The status entries of `run(now=None)` (a route kind's `attach`), or of its last
        outcome for the same inputs; `now` stamped in either way. Placements follow the
        outcome."""
        key = object_key(obj)
        wanted = None if key is None else (key, translated, context)
        last = self._attachments.get(rid)
        made = None if last is None or wanted is None else last.made_for(translated, context)
        if last is not None and made is not None and made == key:
            self.hits += 1
        elif last is not None and made is not None \
                and (given := self._echoed(rid, obj, last)) is not None:
            self.hits += 1  # our own status write came back: attaching again gives what it holds
            self._attachments[rid] = last = RouteAttachment(wanted, given, last.placed, False)
        else:
            self.misses += 1
            attached = run(now=None)
            by_listener: dict[ListenerId, list[Attachment]] = {}
            for ls, attachment in attached.placed:
                by_listener.setdefault(ls.at, []).append(attachment)
            placed = {at: tuple(v) for at, v in by_listener.items()}
            self._place(rid, {} if last is None else last.placed, placed)
            self._attachments[rid] = last = RouteAttachment(
                wanted, attached.parents, placed, changed(attached.parents))
        if not last.timed:
            self._stamped.pop(rid, None)
            return last.parents
        stamped = self._stamped.get(rid)
        if stamped is None or stamped.of is not last.parents or stamped.now != now:
            stamped = self._stamped[rid] = Stamped(last.parents, now, stamp(last.parents, now))
        return stamped.parents

    def update(self, rid: RouteId, parents: tuple[ParentStatus, ...],
               make: Callable[[], StatusUpdate]) -> None:
        """Keep `make()` (the route's StatusUpdate), the same object while `parents` is; a
        route with no parent of ours has none."""
        if not parents:
            self._updates.pop(rid, None)
            return
        found = self._updates.get(rid)
        if found is None or not isinstance(found.status, RouteStatus) \
                or found.status.parents is not parents:
            self._updates[rid] = make()

    def route_statuses(self) -> tuple[StatusUpdate, ...]:
        """The StatusUpdate of every route with a parent of ours."""
        return tuple(self._updates.values())

    def placements(self, listeners: Iterable[ListenerId]) -> dict[ListenerId, Placements]:
        """The routes attached to each of this pass's `listeners`, once every route of the pass
        is attached: last pass's placements updated with the attachments made since. Those of
        listeners that are gone are forgotten once empty."""
        last, moved = self._placements, self._moved
        out = {at: last.get(at, NOWHERE).updated(moved.get(at, {})) for at in listeners}
        kept = dict(out)
        for at in {*last, *moved} - out.keys():
            if not (gone := last.get(at, NOWHERE).updated(moved.get(at, {}))).empty():
                kept[at] = gone
        self._placements, self._moved = kept, {}
        return out

    def pass_done(self) -> None:
        """Forget the decoded objects, route tables and clusters this pass did not use."""
        for store in (*self._decoded.values(), self.tables, self.clusters, self.policies,
                      self.telemetry):
            store.rotate()

    def _still(self, rid: RouteId, rules: Rules, backends: Backends) -> bool:
        """Whether `backends` answers the lookups of `rules` as they were answered; when it
        does, `rules` is kept as known to hold for it."""
        if rules.checked is backends:
            return True
        if backends.still(rules.trace):
            self._rules[rid] = Rules(rules.decoded, rules.rules, rules.trace, backends)
            return True
        return False

    def _echoed(self, rid: RouteId, obj: dict[str, Any],
                last: RouteAttachment) -> tuple[ParentStatus, ...] | None:
        """What the route was last given (`last`'s entries, stamped when timed), when `obj`'s
        status holds exactly that as our controller's entries (the status writer wrote it);
        otherwise None. Attachment reads the status only to keep the lastTransitionTime of
        conditions that did not change, so attaching again would give it."""
        stamped = self._stamped.get(rid)
        if last.timed and (stamped is None or stamped.of is not last.parents):
            return None
        given = stamped.parents if last.timed and stamped is not None else last.parents
        if not given:
            return given
        controller = given[0].controller_name
        written = [p for p in (obj.get("status") or {}).get("parents") or ()
                   if isinstance(p, dict) and p.get("controllerName") == controller]
        return given if written == [p.to_json() for p in given] else None

    def _place(self, rid: RouteId, old: Mapping[ListenerId, tuple[Attachment, ...]],
               placed: Mapping[ListenerId, tuple[Attachment, ...]]) -> None:
        """Note for `placements` that `rid`'s attachments went from `old` to `placed`."""
        for at in old.keys() - placed.keys():
            self._moved.setdefault(at, {})[rid] = ()
        for at, attachments in placed.items():
            if old.get(at) != attachments:
                self._moved.setdefault(at, {})[rid] = attachments

    def _drop(self, rid: RouteId) -> None:
        last = self._attachments.pop(rid, None)
        if last is not None:
            self._place(rid, last.placed, {})
        for cache in (self._objs, self._decodings, self._rules, self._updates, self._stamped):
            cache.pop(rid, None)


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


def _falses(flags: list[bool]) -> list[int]:
    """The positions of False in `flags` (each found by a scan in C)."""
    out: list[int] = []
    try:
        while True:
            out.append(flags.index(False, out[-1] + 1 if out else 0))
    except ValueError:
        return out


__all__ = ["Memo", "Store", "attach_context", "object_key", "spec_key"]
