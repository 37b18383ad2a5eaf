"""ListenerSets: extra listeners that other namespaces attach to a Gateway of ours.

`evaluate(...)` runs after the Gateways and before the routes. A ListenerSet whose parentRef names
a Gateway of ours is judged in this order: the Gateway must be accepted (ParentNotAccepted), and
its `spec.allowedListeners.namespaces` (None by default, Same, All, Selector) must admit the
set's namespace (NotAllowed). Each listener is then evaluated like a Gateway listener, in the
set's namespace (certificates in other namespaces need a ReferenceGrant from kind ListenerSet),
and checked for conflicts against the merged list in the spec's precedence: the Gateway's own
listeners first, then the ListenerSets oldest first, then by "<namespace>/<name>". A listener
whose port is already used with another protocol is ProtocolConflict (HTTPS and TLS may share a
port: SNI tells them apart; UDP listeners use other sockets than TCP ones), one repeating the hostname of an earlier listener of the same port
is HostnameConflict; either way it is not accepted and the earlier listener keeps working. A
set is Accepted when at least one listener is valid (ListenersNotValid otherwise); accepted sets
join their Gateway's `GatewayState.listener_sets` (`evaluate` returns the Gateways' new
states), which feeds `status.attachedListenerSets`, the IR and the
InfraIR of the Gateway (one proxy per Gateway).

Routes attach to a set's listeners through a parentRef of kind ListenerSet (`httproute`,
`tlsroute`, which attaches TCPRoutes and UDPRoutes too); a parentRef of kind Gateway only sees the Gateway's own listeners. `status(...)`
writes the set's conditions and listener statuses once routes are attached and the Gateway's
infrastructure state is known. ListenerSets of Gateways that are not ours get no status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from propylon.api.core import Secret
from propylon.api.gateway import GROUP, Gateway, ListenerSet
from propylon.api.meta import StoredCondition, status_conditions, stored_conditions
from propylon.ir.model import GatewayKey, InfraState, Rejections, transport
from propylon.translate import conditions as c
from propylon.translate.gateways import (
    SNI_PROTOCOLS,
    GatewayState,
    ListenerState,
    listener_state,
    listener_status,
    port_state,
    program_listener,
    program_parent,
    refuse_listener,
)
from propylon.translate.placements import ListenerId, Placements
from propylon.translate.references import Grants
from propylon.translate.statuses import ListenerSetStatus
from propylon.translate.types import Now, StatusUpdate

KIND = "ListenerSet"
NOT_ALLOWED = "NotAllowed"
PARENT_NOT_ACCEPTED = "ParentNotAccepted"
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class SetState:
    obj: dict[str, Any]
    listener_set: ListenerSet
    gateway: GatewayState
    listeners: list[ListenerState]
    accepted: bool
    reason: str
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return _key(self.listener_set)


def _key(ls: ListenerSet) -> tuple[str, str]:
    return (ls.meta.namespace, ls.meta.name)


def _admits(gw: Gateway, namespace: str, namespace_labels: Mapping[str, dict[str, str]]) -> bool:
    source = gw.listener_sets_from
    if source == "All":
        return True
    if source == "Same":
        return namespace == gw.meta.namespace
    if source == "Selector" and gw.listener_sets_selector is not None:
        labels = {METADATA_NAME_LABEL: namespace, **namespace_labels.get(namespace, {})}
        return gw.listener_sets_selector.matches(labels)
    return False


def _precedence(ls: ListenerSet) -> tuple[str, str, str]:
    return (ls.meta.creation_timestamp, ls.meta.namespace, ls.meta.name)


def evaluate(objs: Iterable[dict[str, Any]], gateways: Mapping[tuple[str, str], GatewayState],
             namespace_labels: Mapping[str, dict[str, str]],
             secrets: Mapping[tuple[str, str], Secret], grants: Grants,
             now: Now) -> tuple[dict[tuple[str, str], GatewayState], list[SetState]]:
    """Every ListenerSet of our Gateways, judged, and `gateways` with their accepted ones."""
    decoded = sorted(((ListenerSet.decode(o), o) for o in objs), key=lambda p: _precedence(p[0]))
    claims = {key: _own_claims(state) for key, state in gateways.items()}
    out = []
    for ls, obj in decoded:
        parent = ls.parent
        state = gateways.get((parent.namespace, parent.name))
        if parent.group != GROUP or parent.kind != "Gateway" or state is None:
            continue
        gw = state.gateway
        where = f'Gateway "{gw.meta.namespace}/{gw.meta.name}"'
        if not state.accepted:
            out.append(_rejected(obj, ls, state, now, PARENT_NOT_ACCEPTED,
                                 f"the parent {where} is not accepted: see its conditions"))
            continue
        if not _admits(gw, ls.meta.namespace, namespace_labels):
            out.append(_rejected(obj, ls, state, now, NOT_ALLOWED,
                                 f'the parent {where} does not allow ListenerSets from namespace '
                                 f'"{ls.meta.namespace}": change its spec.allowedListeners'))
            continue
        out.append(_judge(obj, ls, state, claims[(parent.namespace, parent.name)], secrets, grants,
                          now))
    joined: dict[tuple[str, str], list[SetState]] = {}
    for s in out:
        if s.accepted:
            joined.setdefault((s.listener_set.parent.namespace, s.listener_set.parent.name),
                              []).append(s)
    return {key: replace(state, listener_sets=tuple(joined[key])) if key in joined else state
            for key, state in gateways.items()}, out


def _previous(obj: dict[str, Any]) -> dict[str, tuple[StoredCondition, ...]]:
    return {li["name"]: stored_conditions(li.get("conditions"))
            for li in (obj.get("status") or {}).get("listeners") or ()
            if isinstance(li, dict) and isinstance(li.get("name"), str)}


def _rejected(obj: dict[str, Any], ls: ListenerSet, state: GatewayState, now: Now, reason: str,
              message: str) -> SetState:
    previous = _previous(obj)
    listeners = []
    for i, li in enumerate(ls.listeners):
        conds = c.Conditions(previous.get(li.name, ()), ls.meta.generation, now)
        conds.set(c.ACCEPTED, False, reason, message)
        conds.set(c.PROGRAMMED, False, reason, message)
        listeners.append(ListenerState(li, (KIND, _key(ls), i), conds, (), usable=False,
                                       servable=False))
    return SetState(obj, ls, state, listeners, False, reason, message)


# (port, transport) -> (protocol, hostnames): a UDP listener claims another socket than TCP ones
Claims = dict[tuple[int, str], tuple[str, set[str | None]]]


def _own_claims(state: GatewayState) -> Claims:
    claims: Claims = {}
    for ls in state.listeners:
        if not ls.conditions.status(c.CONFLICTED):
            claims.setdefault((ls.spec.port, transport(ls.spec.protocol)),
                              (ls.spec.protocol, set()))[1].add(ls.spec.hostname)
    return claims


def _judge(obj: dict[str, Any], ls: ListenerSet, state: GatewayState, claims: Claims,
           secrets: Mapping[tuple[str, str], Secret], grants: Grants, now: Now) -> SetState:
    previous = _previous(obj)
    listeners = []
    for i, li in enumerate(ls.listeners):
        s = _conflict(listener_state(li, (KIND, _key(ls), i), ls.meta.generation,
                                     previous.get(li.name, ()), secrets, grants, now), claims)
        if s.conditions.status(c.ACCEPTED) is None:
            s.conditions.set(c.ACCEPTED, True, "Accepted", "the listener is valid")
        listeners.append(s)
    valid = [s for s in listeners if s.servable]
    if not valid:
        return SetState(obj, ls, state, listeners, False, c.LISTENERS_NOT_VALID,
                        "no listener is valid: see the listeners' conditions")
    if len(valid) < len(listeners):
        return SetState(obj, ls, state, listeners, True, c.LISTENERS_NOT_VALID,
                        "some listeners are not valid and are not served: see their conditions")
    return SetState(obj, ls, state, listeners, True, "Accepted", "the ListenerSet is accepted")


def _conflict(s: ListenerState, claims: Claims) -> ListenerState:
    """`s` checked against the listeners before it on the Gateway (not usable when it
    conflicts); claim its port if it is free."""
    port, protocol, hostname = s.spec.port, s.spec.protocol, s.spec.hostname
    taken = claims.get((port, transport(protocol)))
    if taken is not None and taken[0] != protocol and not SNI_PROTOCOLS >= {taken[0], protocol}:
        reason, message = c.PROTOCOL_CONFLICT, (
            f'port {port} is already used with protocol {taken[0]} by a listener of the Gateway '
            f'or of an earlier ListenerSet: use another port')
    elif taken is not None and hostname in taken[1]:
        reason, message = c.HOSTNAME_CONFLICT, (
            f'hostname "{hostname or "*"}" on port {port} is already used by a listener of the '
            "Gateway or of an earlier ListenerSet: use another hostname or port")
    else:
        claims.setdefault((port, transport(protocol)), (protocol, set()))[1].add(hostname)
        if s.usable:
            s.conditions.set(c.CONFLICTED, False, c.NO_CONFLICTS, "no conflicts")
        return s
    for type_ in (c.ACCEPTED, c.PROGRAMMED):
        s.conditions.set(type_, False, reason, message)
    s.conditions.set(c.CONFLICTED, True, reason, message)
    return replace(s, usable=False, servable=False)


def status(s: SetState, placements: Mapping[ListenerId, Placements], infra: InfraState | None,
           now: Now, rejections: Rejections | None = None) -> StatusUpdate:
    ls = s.listener_set
    conds = c.Conditions(status_conditions(s.obj), ls.meta.generation, now)
    conds.set(c.ACCEPTED, s.accepted, s.reason, s.message)
    address = infra.address if infra is not None else None
    gateway = GatewayKey(s.gateway.gateway.meta.namespace, s.gateway.gateway.meta.name)
    if s.accepted:
        for li in s.listeners:
            if li.conditions.status(c.CONFLICTED) is not True:
                program_listener(li, True, address, port_state(infra, li.spec.port))
                refuse_listener(li, gateway, rejections)
    if not s.accepted:
        conds.set(c.PROGRAMMED, False, s.reason, s.message)
    else:
        program_parent(conds, KIND, s.listeners, infra)
    body = ListenerSetStatus(conds.as_tuple(),
                             tuple(listener_status(li, placements) for li in s.listeners))
    return StatusUpdate(str(s.obj.get("apiVersion", "gateway.networking.k8s.io/v1")), KIND,
                        ls.meta.namespace, ls.meta.name, ls.meta.generation, body)
