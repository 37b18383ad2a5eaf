"""Status conditions: building them with the spec's types and reasons, and keeping
`lastTransitionTime` stable.

`Conditions(previous, generation, now)` collects conditions for one object (or one listener, one
route parent). `set(type, status, reason, message)` replaces any earlier condition of that type;
`as_tuple()` gives them as `statuses.Condition` values in a fixed order (Accepted, Programmed,
ResolvedRefs, ...), each with `observedGeneration`, and with the `lastTransitionTime` of the
previous condition of the same type (the object's stored status, JSON) when its status did not
change (otherwise `now`).

This module is where the translator decides condition times. With `now` None a condition that
changed has None for lastTransitionTime, so a result can be kept from pass to pass whatever the
clock says: `changed(entries)` tells whether parent status entries hold such a condition, and
`stamp(entries, now)` gives them this pass's time (`memo.Memo.attach` does both for routes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from propylon.api.meta import StoredCondition
from propylon.translate.statuses import Condition, ParentStatus
from propylon.translate.types import Now

# Condition types and reasons, as the Gateway API spec names them.
ACCEPTED = "Accepted"
PROGRAMMED = "Programmed"
RESOLVED_REFS = "ResolvedRefs"
CONFLICTED = "Conflicted"
SUPPORTED_VERSION = "SupportedVersion"
# A route some of whose rules are left out (the others are served); only ever True.
PARTIALLY_INVALID = "PartiallyInvalid"

PENDING = "Pending"
INVALID = "Invalid"
LISTENERS_NOT_VALID = "ListenersNotValid"
UNSUPPORTED_ADDRESS = "UnsupportedAddress"
ADDRESS_NOT_ASSIGNED = "AddressNotAssigned"
ADDRESS_NOT_USABLE = "AddressNotUsable"
UNSUPPORTED_PROTOCOL = "UnsupportedProtocol"
INVALID_CERTIFICATE_REF = "InvalidCertificateRef"
INVALID_ROUTE_KINDS = "InvalidRouteKinds"
REF_NOT_PERMITTED = "RefNotPermitted"
HOSTNAME_CONFLICT = "HostnameConflict"
PROTOCOL_CONFLICT = "ProtocolConflict"
NO_CONFLICTS = "NoConflicts"
NOT_ALLOWED_BY_LISTENERS = "NotAllowedByListeners"
NO_MATCHING_LISTENER_HOSTNAME = "NoMatchingListenerHostname"
NO_MATCHING_PARENT = "NoMatchingParent"
UNSUPPORTED_VALUE = "UnsupportedValue"
BACKEND_NOT_FOUND = "BackendNotFound"
INVALID_KIND = "InvalidKind"
INVALID_PARAMETERS = "InvalidParameters"


class Conditions:
    """The conditions of one status block, keyed by type."""

    def __init__(self, previous: Iterable[StoredCondition], generation: int,
                 now: Now | None) -> None:
        self._previous = {c.type: c for c in previous}
        self._generation = generation
        self._now = now
        self._items: dict[str, tuple[bool, str, str]] = {}

    def set(self, type_: str, status: bool, reason: str, message: str) -> None:
        self._items[type_] = (status, reason, message)

    def status(self, type_: str) -> bool | None:
        item = self._items.get(type_)
        return None if item is None else item[0]

    def as_tuple(self) -> tuple[Condition, ...]:
        out = []
        for type_, (status, reason, message) in sorted(self._items.items(), key=_order):
            before = self._previous.get(type_)
            since = (before.last_transition_time
                     if before and before.status == ("True" if status else "False") else None)
            out.append(Condition(type_, status, reason, message, self._generation,
                                 since or self._now))
        return tuple(out)


def changed(entries: Iterable[ParentStatus]) -> bool:
    """Whether a condition of status `entries` changed and has no time yet (see `stamp`)."""
    return any(cond.last_transition_time is None
               for entry in entries for cond in entry.conditions)


def stamp(entries: Iterable[ParentStatus], now: Now) -> tuple[ParentStatus, ...]:
    """Status `entries` with `now` for the lastTransitionTime of the conditions that changed,
    made with `now` None."""
    return tuple(ParentStatus(entry.ref, entry.controller_name, tuple(
        Condition(cond.type, cond.status, cond.reason, cond.message, cond.observed_generation, now)
        if cond.last_transition_time is None else cond for cond in entry.conditions))
        for entry in entries)


_ORDER = (ACCEPTED, PROGRAMMED, RESOLVED_REFS, CONFLICTED, SUPPORTED_VERSION)


def _order(item: tuple[str, Any]) -> tuple[int, str]:
    type_ = item[0]
    return (_ORDER.index(type_) if type_ in _ORDER else len(_ORDER), type_)
