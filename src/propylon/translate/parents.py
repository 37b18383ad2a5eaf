"""The parentRef attachment loop shared by HTTPRoutes, GRPCRoutes and TLSRoutes.

`attach_parents(obj, route, ...)` walks `route.parent_refs` and skips any that is not a Gateway
or ListenerSet of the Gateway API group, or that names no parent of ours (`gateways`,
`listener_sets`, both by namespace and name). For each remaining parentRef it starts a
`conditions.Conditions` from the conditions our controller last wrote for that parentRef in
`obj`'s status (so lastTransitionTime is kept when nothing changed), then:

- a Gateway: its own listeners;
- a ListenerSet its Gateway has not accepted: Accepted False, NotAllowedByListeners;
- an accepted ListenerSet: the set's listeners.

Of those listeners `_matching_listeners` keeps the ones the parentRef selects and that take the
route (the spec's order of refusals: no listener with that sectionName/port, none accepting the
kind, none admitting the route's namespace, no hostname in common; each sets Accepted False with
its reason). If some are left, what the route kind's translation says (`Attaching`) decides:
Accepted False, UnsupportedValue, for a value this implementation does not serve; otherwise
Accepted True (and PartiallyInvalid True when rules were left out), and the kind's attachment
for each listener left. ResolvedRefs then comes from the backend references the translation
refused (`_set_resolved_refs`). The result is an `Attached` value: one status entry
(`statuses.ParentStatus`) per parentRef with our controllerName, in parentRef order, and every
(listener, attachment) made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from propylon.api.gateway import GROUP
from propylon.api.httproute import ParentRef
from propylon.api.meta import ObjectMeta, stored_conditions
from propylon.translate import conditions as c
from propylon.translate.backends import Refused
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.hostnames import route_hostnames
from propylon.translate.listenersets import SetState
from propylon.translate.statuses import ObjectRef, ParentStatus
from propylon.translate.types import Now

METADATA_NAME_LABEL = "kubernetes.io/metadata.name"


class Routed(Protocol):
    """A route with parentRefs: HTTPRoute, GRPCRoute or TLSRoute."""

    @property
    def meta(self) -> ObjectMeta: ...

    @property
    def parent_refs(self) -> tuple[ParentRef, ...]: ...

    @property
    def hostnames(self) -> tuple[str, ...]: ...


Placed = tuple[ListenerState, Any]  # a listener and the attachment a route made to it


@dataclass(frozen=True)
class Attached:
    """What attaching one route gave: our status entries for `parents`, and its attachments."""

    parents: tuple[ParentStatus, ...]
    placed: tuple[Placed, ...]


@dataclass(frozen=True)
class Attaching:
    """What attaching a route of `kind` takes from its translation."""

    kind: str
    # the attachment made to a listener, from the hostnames it serves the route for there
    attachment: Callable[[tuple[str, ...]], Any]
    refused: Sequence[Refused] = ()  # backend references refused: ResolvedRefs
    unsupported: str = ""  # why the route is not Accepted (UnsupportedValue); "" if it is
    dropped: str = ""  # the rules left out, for PartiallyInvalid; "" if none


def attach_parents(obj: dict[str, Any], route: Routed, how: Attaching,
                   gateways: Mapping[tuple[str, str], GatewayState],
                   namespace_labels: Mapping[str, dict[str, str]], controller: str,
                   now: Now | None,
                   listener_sets: Mapping[tuple[str, str], SetState] | None) -> Attached:
    """Attach `route` to each parent of ours it names."""
    previous = {ref_key(p.get("parentRef") or {}): stored_conditions(p.get("conditions"))
                for p in (obj.get("status") or {}).get("parents") or ()
                if isinstance(p, dict) and p.get("controllerName") == controller}
    parents = []
    placed: list[Placed] = []
    for ref in route.parent_refs:
        key = (ref.namespace or route.meta.namespace, ref.name)
        if ref.group != GROUP or ref.kind not in ("Gateway", "ListenerSet"):
            continue
        parent: GatewayState | SetState | None = (
            gateways.get(key) if ref.kind == "Gateway" else (listener_sets or {}).get(key))
        if parent is None:
            continue
        status_ref = ObjectRef.parent(ref, route.meta.namespace)
        conds = c.Conditions(previous.get(status_ref.key(), ()), route.meta.generation, now)
        if isinstance(parent, SetState) and not parent.accepted:
            conds.set(c.ACCEPTED, False, c.NOT_ALLOWED_BY_LISTENERS,
                      f'ListenerSet "{key[0]}/{key[1]}" is not accepted by its Gateway: see its '
                      "conditions")
        else:
            matched = _matching_listeners(ref, route, how.kind, parent.listeners, key, ref.kind,
                                         namespace_labels, conds)
            placed += _attach(how, matched, conds)
        _set_resolved_refs(how.refused, conds)
        parents.append(ParentStatus(status_ref, controller, conds.as_tuple()))
    return Attached(tuple(parents), tuple(placed))


def _attach(how: Attaching, matched: list[tuple[ListenerState, tuple[str, ...]]],
            conds: c.Conditions) -> list[Placed]:
    """The attachments to the `matched` listeners of one parent, unless the route is refused."""
    if not matched:
        return []
    if how.unsupported:
        conds.set(c.ACCEPTED, False, c.UNSUPPORTED_VALUE, how.unsupported)
        return []
    conds.set(c.ACCEPTED, True, "Accepted", "the route is attached")
    if how.dropped:
        conds.set(c.PARTIALLY_INVALID, True, c.UNSUPPORTED_VALUE, how.dropped)
    return [(ls, how.attachment(hosts)) for ls, hosts in matched]


def ref_key(ref: dict[str, Any]) -> tuple[object, ...]:
    """A stored status parentRef (JSON) as a key: group, kind, namespace, name, sectionName,
    port (`ObjectRef.key()`)."""
    return (ref.get("group"), ref.get("kind"), ref.get("namespace"), ref.get("name"),
            ref.get("sectionName"), ref.get("port"))


def _matching_listeners(ref: ParentRef, route: Routed, kind: str, listeners: list[ListenerState],
                       owner: tuple[str, str], owner_kind: str,
                       namespace_labels: Mapping[str, dict[str, str]], conds: c.Conditions,
                       ) -> list[tuple[ListenerState, tuple[str, ...]]]:
    """The listeners of one parent that `ref` selects and that take this route, each with the
    hostnames it serves the route for; empty, with Accepted False and the reason, if none."""
    where = f'{owner_kind} "{owner[0]}/{owner[1]}"'
    candidates = [ls for ls in listeners
                  if ref.section_name in (None, ls.spec.name) and ref.port in (None, ls.spec.port)]
    if not candidates:
        wanted = " and ".join(filter(None, (
            f'sectionName "{ref.section_name}"' if ref.section_name else "",
            f"port {ref.port}" if ref.port else "")))
        conds.set(c.ACCEPTED, False, c.NO_MATCHING_PARENT,
                  f"{where} has no listener with {wanted}: fix the parentRef")
        return []
    kinds = [ls for ls in candidates if ls.usable and kind in ls.supported_kinds]
    if not kinds:
        conds.set(c.ACCEPTED, False, c.NOT_ALLOWED_BY_LISTENERS,
                  f"no listener of {where} accepts {kind}s (see the listeners' supportedKinds): "
                  "change the parentRef or the listeners' protocol and allowedRoutes.kinds")
        return []
    allowed = [ls for ls in kinds
               if _namespace_allowed(ls, owner[0], route.meta.namespace, namespace_labels)]
    if not allowed:
        conds.set(c.ACCEPTED, False, c.NOT_ALLOWED_BY_LISTENERS,
                  f'no listener of {where} allows {kind}s from namespace '
                  f'"{route.meta.namespace}": change the listeners\' allowedRoutes '
                  "or the parentRef")
        return []
    matched = [(ls, route_hostnames(ls.spec.hostname, route.hostnames)) for ls in allowed]
    matched = [(ls, hosts) for ls, hosts in matched if hosts]
    if not matched:
        conds.set(c.ACCEPTED, False, c.NO_MATCHING_LISTENER_HOSTNAME,
                  f"none of the route's hostnames ({', '.join(route.hostnames)}) matches a "
                  "listener hostname: fix spec.hostnames or the listeners' hostname")
    return matched


def _set_resolved_refs(refused: Sequence[Refused], conds: c.Conditions) -> None:
    """ResolvedRefs from the backend references a route's translation refused."""
    if refused:
        conds.set(c.RESOLVED_REFS, False, refused[0].reason,
                  "; ".join(dict.fromkeys(r.message for r in refused)))
    else:
        conds.set(c.RESOLVED_REFS, True, "ResolvedRefs", "all backend references are resolved")


def _namespace_allowed(ls: ListenerState, owner_ns: str, route_ns: str,
                       namespace_labels: Mapping[str, dict[str, str]]) -> bool:
    source = ls.spec.namespaces_from
    if source == "All":
        return True
    if source == "Same":
        return route_ns == owner_ns
    if source == "Selector" and ls.spec.selector is not None:
        labels = {METADATA_NAME_LABEL: route_ns, **namespace_labels.get(route_ns, {})}
        return ls.spec.selector.matches(labels)
    return False
