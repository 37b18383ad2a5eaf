"""`Memo`: what one `translate()` pass may reuse from the previous one.

A pass still walks the whole graph, but an object the API server has not changed since the last
pass is not decoded again, and a route whose backends resolve as before keeps its translated
rules. Entries are keyed by the object's kind, namespace, name, uid and resourceVersion (which
the API server changes on every write, status included: `object_key`), so an edited object is a
miss by construction; an object without uid or resourceVersion (offline input) is never cached.
A route's decoding and rules read only its metadata and spec, so they are keyed by `spec_key`
instead: its generation (which the API server raises whenever anything but metadata and status
changes) and the labels and annotations, so that writing a route's status costs only its
attachment again.

Translated rules also depend on other objects (Services, EndpointSlices, ReferenceGrants,
BackendTLSPolicies), so each is stored with the backend lookups it made and their answers
(`Backends.traced`); it is reused only when every lookup still gives an equal answer.

A route's attachment (its status entries for `parents` and the listeners it attached to) also
depends on the Gateways, ListenerSets and Namespaces: `attach_context` condenses what attachment
reads of them into a value, and an attachment is reused only while that value, the route's
version and its translated rules (the same object) are unchanged. It is computed with `NOW`
for `now`, a placeholder no input can hold, so the conditions that changed are known exactly
and get each pass's `now` stamped in (a route whose status is not written yet is reused too).
Listeners are named by position (`Listeners`), which the context value fixes.

A route's StatusUpdate is the same object while its parents entries are, which lets the status
writer compare it with the settled one by identity.

Every entry used by a pass survives into the next one; the rest are dropped at the end of the
pass (`Memo.pass_done`), so the memo holds about one pass's worth of live objects. A memo is a
plain value passed in: `translate(snapshot)` without one is the full rebuild, and
`tests/translate/test_memo.py` proves passes with one equal to it. Not for concurrent passes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from propylon.translate.backends import Answers, Backends, Trace
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.listenersets import SetState

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


class Store:
    """Entries of this pass, and of the last pass until this one uses them."""

    def __init__(self) -> None:
        self._old: dict[Key, Any] = {}
        self._live: dict[Key, Any] = {}

    def get(self, key: Key | None) -> Any:
        if key is None:
            return None
        found = self._live.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self._live[key] = found
        return found

    def put(self, key: Key | None, value: Any) -> None:
        if key is not None:
            self._live[key] = value

    def rotate(self) -> None:
        self._old, self._live = self._live, {}


class Memo:
    """Decoded objects, translated rules and attachments, by object identity and version."""

    def __init__(self) -> None:
        self._decoded = Store()
        self._rules = Store()
        self._attached = Store()
        self._updates = Store()
        self.vhosts = Store()  # `gatewayir.build`'s virtual hosts
        self._context: Hashable = None
        self._context_id = 0
        self.answers: Answers = {}  # the last pass's `Backends.answers`
        self.hits = 0
        self.misses = 0

    def decode(self, decode: Callable[[dict[str, Any]], T], obj: dict[str, Any],
               key: Key | None) -> T:
        """`decode(obj)`, reused while `obj` keeps its `key` (`object_key` or `spec_key`)."""
        found = self._decoded.get(key)
        if found is not None:
            self.hits += 1
            return found  # type: ignore[no-any-return]
        self.misses += 1
        value = decode(obj)
        self._decoded.put(key, value)
        return value

    def rules(self, key: Key | None, backends: Backends, translate: Callable[[], T]) -> T:
        """`translate()` of the route of `key`, reused while its backend lookups answer the
        same."""
        found: tuple[T, Trace] | None = self._rules.get(key)
        if found is not None and backends.still(found[1]):
            self.hits += 1
            return found[0]
        self.misses += 1
        value, trace = backends.traced(translate)
        self._rules.put(key, (value, trace))
        return value

    def context(self, value: Hashable) -> int:
        """A number that stays the same from pass to pass while `value` is equal."""
        if value != self._context:
            self._context, self._context_id = value, self._context_id + 1
        return self._context_id

    def attach(self, key: Key | None, translated: object, context: int, now: str,
               listeners: Listeners, run: Callable[..., list[dict[str, Any]]],
               ) -> list[dict[str, Any]]:
        """`run(now=NOW, placed=placed)` (an `attach` noting its attachments in `placed`), or
        its last outcome replayed onto this pass's listeners; `NOW` stamped `now` either way."""
        found = self._attached.get(key)
        if found is not None and found[0] is translated and found[1] == context:
            self.hits += 1
            for address, attachment in found[3]:
                listeners.at(address).place(attachment, None)
        else:
            self.misses += 1
            placed: Placed = []
            parents = run(now=NOW, placed=placed)
            found = [translated, context, parents,
                     tuple((listeners.address(ls), a) for ls, a in placed), _timed(parents), None]
            self._attached.put(key, found)
        if not found[4]:
            return found[2]  # type: ignore[no-any-return]
        if found[5] is None or found[5][0] != now:
            found[5] = (now, _stamped(found[2], now))
        return found[5][1]  # type: ignore[no-any-return]

    def update(self, key: Key | None, parents: list[dict[str, Any]],
               make: Callable[[], T]) -> T:
        """`make()` (the route's StatusUpdate), the same object while `parents` is."""
        found = self._updates.get(key)
        if found is not None and found[0] is parents:
            return found[1]  # type: ignore[no-any-return]
        value = make()
        self._updates.put(key, (parents, value))
        return value

    def pass_done(self, answers: Answers) -> None:
        """Forget what this pass did not use; keep its backend answers (see `Backends`)."""
        for store in (self._decoded, self._rules, self._attached, self._updates, self.vhosts):
            store.rotate()
        self.answers = answers


Placed = list[tuple[ListenerState, Any]]
Address = tuple[str, tuple[str, str], int]


class Listeners:
    """This pass's listeners of our Gateways and ListenerSets, by position."""

    def __init__(self, gateways: Mapping[tuple[str, str], GatewayState],
                 sets: Mapping[tuple[str, str], SetState]) -> None:
        self._at: dict[Address, ListenerState] = {}
        for kind, owners in (("Gateway", gateways), ("ListenerSet", sets)):
            for key, owner in owners.items():
                for i, ls in enumerate(owner.listeners):
                    self._at[(kind, key, i)] = ls
        self._address = {id(ls): address for address, ls in self._at.items()}

    def address(self, ls: ListenerState) -> Address:
        return self._address[id(ls)]

    def at(self, address: Address) -> ListenerState:
        return self._at[address]


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


class _Now(str):
    """The type of `NOW`, so that it is a str no input can hold."""


NOW = _Now()  # the `now` attachments are computed with, stamped afterwards


def _timed(parents: list[dict[str, Any]]) -> bool:
    """Whether a condition of `parents` changed (its lastTransitionTime is `NOW`)."""
    return any(cond.get("lastTransitionTime") is NOW
               for p in parents for cond in p.get("conditions") or ())


def _stamped(parents: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """`parents` with `now` for `NOW`."""
    return [{**p, "conditions": [{**cond, "lastTransitionTime": now}
                                 if cond.get("lastTransitionTime") is NOW else cond
                                 for cond in p.get("conditions") or ()]} for p in parents]


__all__ = ["Listeners", "Memo", "Store", "attach_context", "object_key", "spec_key"]
