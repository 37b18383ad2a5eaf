"""The parentRef attachment loop shared by HTTPRoutes, GRPCRoutes and TLSRoutes.

`attach_parents(obj, route, ...)` walks `route.parent_refs` and skips any that is not a Gateway
or ListenerSet of the Gateway API group, or that names no parent of ours (`gateways`,
`listener_sets`, both by namespace and name). For each remaining parentRef it starts a
`conditions.Conditions` from the conditions our controller last wrote for that parentRef in
`obj`'s status (so lastTransitionTime is kept when nothing changed), then:

- a Gateway: `attach_to(ref, listeners, owner, "Gateway", conds)` with the Gateway's own
  listeners;
- a ListenerSet its Gateway has not accepted: Accepted False, NotAllowedByListeners;
- an accepted ListenerSet: `attach_to(ref, listeners, owner, "ListenerSet", conds)` with the
  set's listeners.

`attach_to` is the route kind's own: it narrows the listeners, sets Accepted, and records the
attachments (and notes them in the caller's `placed` list, which it closes over). Then
`resolved_refs(conds)` sets ResolvedRefs, and one status entry per parentRef is returned with
our controllerName, in parentRef order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from propylon.api.gateway import GROUP
from propylon.api.httproute import ParentRef
from propylon.api.meta import ObjectMeta
from propylon.translate import conditions as c
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.listenersets import SetState


class Routed(Protocol):
    """A route with parentRefs: HTTPRoute, GRPCRoute or TLSRoute."""

    @property
    def meta(self) -> ObjectMeta: ...

    @property
    def parent_refs(self) -> tuple[ParentRef, ...]: ...


# (parentRef, the parent's listeners, (namespace, name) of the parent, "Gateway" or
# "ListenerSet", the parentRef's conditions) -> None
AttachTo = Callable[[ParentRef, list[ListenerState], tuple[str, str], str, c.Conditions], None]
ResolvedRefs = Callable[[c.Conditions], None]


def attach_parents(obj: dict[str, Any], route: Routed,
                   gateways: Mapping[tuple[str, str], GatewayState], controller: str, now: str,
                   listener_sets: Mapping[tuple[str, str], SetState] | None,
                   attach_to: AttachTo, resolved_refs: ResolvedRefs) -> list[dict[str, Any]]:
    """Attach `route` to each parent of ours it names; return our status entries for `parents`."""
    previous = {ref_key(p.get("parentRef") or {}): p.get("conditions") or ()
                for p in (obj.get("status") or {}).get("parents") or ()
                if isinstance(p, dict) and p.get("controllerName") == controller}
    parents = []
    for ref in route.parent_refs:
        key = (ref.namespace or route.meta.namespace, ref.name)
        if ref.group != GROUP or ref.kind not in ("Gateway", "ListenerSet"):
            continue
        parent: GatewayState | SetState | None = (
            gateways.get(key) if ref.kind == "Gateway" else (listener_sets or {}).get(key))
        if parent is None:
            continue
        status_ref = ref.status_ref(route.meta.namespace)
        conds = c.Conditions(previous.get(ref_key(status_ref), ()), route.meta.generation, now)
        if isinstance(parent, GatewayState):
            attach_to(ref, parent.listeners, key, "Gateway", conds)
        elif not parent.accepted:
            conds.set(c.ACCEPTED, False, c.NOT_ALLOWED_BY_LISTENERS,
                      f'ListenerSet "{key[0]}/{key[1]}" is not accepted by its Gateway: see its '
                      "conditions")
        else:
            attach_to(ref, parent.listeners, key, "ListenerSet", conds)
        resolved_refs(conds)
        parents.append({"parentRef": status_ref, "controllerName": controller,
                        "conditions": conds.as_list()})
    return parents


def ref_key(ref: dict[str, Any]) -> tuple[object, ...]:
    """A status parentRef as a key: group, kind, namespace, name, sectionName, port."""
    return (ref.get("group"), ref.get("kind"), ref.get("namespace"), ref.get("name"),
            ref.get("sectionName"), ref.get("port"))
