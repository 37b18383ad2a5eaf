"""Policy attachment as Envoy Gateway does it: which policy governs what, and each one's status.

`attach(policies, gateways, routes, controller_name, now)` takes the policies of one kind,
sorted as Envoy Gateway sorts them (oldest first, then namespace/name), our Gateways and the
HTTPRoutes and GRPCRoutes, and returns an `Attachments`: per `Scope` the policy attached there,
and every policy's `status.ancestors` entries of this controller.

- Targets: `targetRef`, `targetRefs` and `targetSelectors` (label selectors over the kind, in
  the policy's namespace); policies target objects of their own namespace only. Kinds per
  policy kind: ClientTrafficPolicy a Gateway (a listener with `sectionName`); the others also a
  HTTPRoute or GRPCRoute (a rule, by its `name`, with `sectionName`).
- A target that does not exist, a Gateway not of our GatewayClasses, or a route with no
  parentRef to one of our Gateways is skipped without status: another controller may own it.
- A BackendTrafficPolicy may also target a TCPRoute, UDPRoute or TLSRoute (a spec field that
  does not apply to L4 routes, `l4fields`, makes it Accepted False there, naming the field).
- Kinds Envoy Gateway lets a policy target that Propylon does not apply it to yet
  (`NOT_APPLIED`: a ListenerSet, TCPRoute, UDPRoute or TLSRoute, as the kind allows) get a
  status all the same, on the parent Gateways of ours the target has: Accepted False, reason
  Invalid, naming the target field and the fix; the policy has no effect there.
- An EnvoyPatchPolicy targeting one of our GatewayClasses (`classes`) is Accepted False with
  the class as its ancestor: Envoy Gateway accepts that target only when the class's EnvoyProxy
  sets `mergeGateways` (one Envoy for all its Gateways, patched as one), which Propylon does not
  implement; each Gateway has its own Envoy and is the target to use.
- Ancestors: a Gateway target is its own ancestor (with the listener as `sectionName`); a route
  target has one ancestor per parentRef to a Gateway of ours, written as the parentRef names it
  (`sectionName` kept). Conditions per ancestor:
  - `Accepted` True, reason Accepted, "Policy has been accepted.";
  - `Accepted` False, reason Invalid: a `sectionName` naming no listener or rule, a field
    Propylon does not implement, a value it cannot use (`Policy.problems`); the message names
    the field and the fix;
  - `Accepted` False, reason Conflicted: the target already has a policy of this kind (the
    older one wins), with Envoy Gateway's message (not for EnvoyPatchPolicies: all of a
    Gateway's apply);
  - `Programmed` on an accepted policy, when the caller gives it (EnvoyPatchPolicy);
  - `Overridden` True on a Gateway-, listener- or route-level policy when more specific
    policies (listener, route, rule) take some of its routes;
  - `Merged` True on a route-level policy with `mergeType` merged into the closest parent
    policy (listener, then Gateway), and on that parent.
- A policy with problems still takes its target (as in Envoy Gateway) but has no effect; a
  SecurityPolicy's or EnvoyExtensionPolicy's routes answer 500 instead (`failclosed`), and
  its message says so.

Precedence when resolving one route rule (`effective`): rule > route > listener > Gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from propylon.api.envoygateway import (
    BACKEND_TRAFFIC_POLICY,
    CLIENT_TRAFFIC_POLICY,
    ENVOY_EXTENSION_POLICY,
    ENVOY_PATCH_POLICY,
    GATEWAY_GROUP,
    SECURITY_POLICY,
    Policy,
    TargetRef,
)
from propylon.api.gateway import LabelSelector
from propylon.api.meta import stored_conditions
from propylon.translate import conditions as c
from propylon.translate.gateways import GatewayState
from propylon.translate.policies import failclosed, l4fields
from propylon.translate.policies.l4fields import L4_ROUTE_KINDS
from propylon.translate.statuses import ObjectRef, ParentStatus
from propylon.translate.types import Now

ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
LISTENER_SET = "ListenerSet"
_L4 = ("TCPRoute", "UDPRoute", "TLSRoute")
# target kinds Envoy Gateway's CRDs allow per policy kind that Propylon does not apply yet
NOT_APPLIED = {BACKEND_TRAFFIC_POLICY: (LISTENER_SET,),
               ENVOY_EXTENSION_POLICY: (LISTENER_SET, *_L4),
               SECURITY_POLICY: (LISTENER_SET, "TCPRoute"),
               CLIENT_TRAFFIC_POLICY: (LISTENER_SET,)}
OTHER_KINDS = (LISTENER_SET, *_L4)  # what `Routes` also holds, for those targets
ACCEPTED_MESSAGE = "Policy has been accepted."
OVERRIDDEN, MERGED = "Overridden", "Merged"
INVALID, CONFLICTED = "Invalid", "Conflicted"
Condition = tuple[bool, str, str]  # status, reason, message
PLURAL = {"SecurityPolicy": "securityPolicies", BACKEND_TRAFFIC_POLICY: "backendTrafficPolicies",
          CLIENT_TRAFFIC_POLICY: "clientTrafficPolicies",
          "EnvoyExtensionPolicy": "envoyExtensionPolicies",
          "EnvoyPatchPolicy": "envoyPatchPolicies"}
Key = tuple[str, str]
# (attached, gateways) -> per (policy, Gateway, sectionName) a condition type and condition
Shared = Callable[[Mapping["Scope", Policy], Mapping[Key, GatewayState]],
                  Mapping[tuple[Key, Key, str | None], tuple[str, Condition]]]


@dataclass(frozen=True)
class Scope:
    """What a policy is attached to: a Gateway (`section` a listener name or None) or a route
    (`kind` HTTPRoute or GRPCRoute; `section` a rule name or None)."""

    kind: str
    namespace: str
    name: str
    section: str | None = None


@dataclass(frozen=True)
class RouteInfo:
    """What attachment reads of a route (or of a ListenerSet, whose one `parentRef` is its
    Gateway): labels, parent Gateways, rule names."""

    kind: str
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    parents: tuple[tuple[Key, str | None], ...]  # (Gateway, parentRef sectionName)
    rules: tuple[str | None, ...]  # rule names by index

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> RouteInfo:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        ns = str(meta.get("namespace") or "")
        refs = spec.get("parentRefs") or (
            [spec["parentRef"]] if isinstance(spec.get("parentRef"), dict) else ())
        parents = tuple(((str(p.get("namespace") or ns), str(p.get("name", ""))),
                         p.get("sectionName") or None)
                        for p in refs
                        if isinstance(p, dict) and (p.get("kind") or "Gateway") == "Gateway"
                        and (p.get("group") or GATEWAY_GROUP) == GATEWAY_GROUP)
        return cls(str(obj.get("kind", "")), ns, str(meta.get("name", "")),
                   tuple(sorted((meta.get("labels") or {}).items())), parents,
                   tuple(r.get("name") or None for r in spec.get("rules") or ()
                         if isinstance(r, dict)))


@dataclass
class _Ancestor:
    ref: ObjectRef
    conditions: dict[str, Condition] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachments:
    """The policies of one kind attached per scope, and the statuses of all of them."""

    kind: str
    attached: Mapping[Scope, Policy]
    statuses: tuple[tuple[Policy, tuple[ParentStatus, ...]], ...]  # (policy, ancestors)

    def effective(self, gateway: Key, listener: str | None, route: Scope,
                  rule: str | None) -> tuple[Policy, Policy | None] | None:
        """The policy governing one rule of `route` served on `listener` of `gateway`, most
        specific first, and the parent it merges with (None: it applies alone). None when no
        policy does, or when the one that does has problems (it applies nothing)."""
        found = self.governing(gateway, listener, route, rule)
        if found is None or found[0].problems or (found[1] is not None and found[1].problems):
            return None
        return found

    def governing(self, gateway: Key, listener: str | None, route: Scope,
                  rule: str | None) -> tuple[Policy, Policy | None] | None:
        """As `effective`, problems or not: the caller decides what they mean
        (`failclosed`)."""
        gw_ns, gw_name = gateway
        parents = [s for s in (Scope("Gateway", gw_ns, gw_name, listener) if listener else None,
                               Scope("Gateway", gw_ns, gw_name)) if s is not None]
        children = [Scope(route.kind, route.namespace, route.name, rule) if rule else None,
                    Scope(route.kind, route.namespace, route.name)]
        for scope in children:
            policy = self.attached.get(scope) if scope is not None else None
            if policy is not None:
                parent = next((self.attached[p] for p in parents if p in self.attached), None)
                return policy, parent if policy.merge_type else None
        parent = next((self.attached[p] for p in parents if p in self.attached), None)
        return None if parent is None else (parent, None)


class Routes(Protocol):
    """The routes attachment may read: one by kind, namespace and name, or those of a
    namespace (for target selectors)."""

    def get(self, key: tuple[str, str, str]) -> RouteInfo | None: ...

    def in_namespace(self, kind: str, namespace: str) -> Iterable[RouteInfo]: ...


def attach(kind: str, policies: Iterable[Policy], gateways: Mapping[Key, GatewayState],
           routes: Routes, controller_name: str, now: Now,
           previous: Mapping[Key, Iterable[dict[str, Any]]],
           programmed: Callable[[Policy], Condition] | None = None,
           classes: Collection[str] = (), shared: Shared | None = None) -> Attachments:
    """See the module docstring. `previous` holds each policy's current ancestor entries of
    this controller (their lastTransitionTimes are kept). `programmed` gives the Programmed
    condition (status, reason, message) of an accepted policy whose kind reports one.
    `classes` names our GatewayClasses. `shared` gives the conditions of accepted policies
    whose settings another policy sets for a port they share (`sharedport.conflicts`)."""
    ordered = sorted(policies, key=lambda p: (p.meta.creation_timestamp, p.meta.namespace,
                                              p.meta.name))
    attached: dict[Scope, Policy] = {}
    ancestors: dict[Key, dict[tuple[Any, ...], _Ancestor]] = {p.key: {} for p in ordered}
    for policy in ordered:
        for ref in _targets(policy, gateways, routes):
            if ref.kind == "GatewayClass":
                _class_target(policy, ref, classes, ancestors[policy.key])
            else:
                _resolve(policy, ref, gateways, routes, attached, ancestors[policy.key])
        for ancestor in ancestors[policy.key].values():
            if programmed is not None and ancestor.conditions.get(c.ACCEPTED, (False,))[0]:
                ancestor.conditions[c.PROGRAMMED] = programmed(policy)
    _overrides(kind, attached, routes, ancestors)
    _merged_into_closed(attached, routes, ancestors)
    if shared is not None:
        _shared(shared(attached, gateways), ancestors)
    statuses = []
    for policy in ordered:
        entries = []
        old = {_ref_key(a.get("ancestorRef") or {}): stored_conditions(a.get("conditions"))
               for a in previous.get(policy.key, ())}
        for key, ancestor in sorted(ancestors[policy.key].items(),
                                    key=lambda item: tuple(str(k) for k in item[0])):
            conds = c.Conditions(old.get(key, ()), policy.meta.generation, now)
            for type_, (status, reason, message) in ancestor.conditions.items():
                conds.set(type_, status, reason, message)
            entries.append(ParentStatus(ancestor.ref, controller_name, conds.as_tuple()))
        statuses.append((policy, tuple(entries)))
    return Attachments(kind, attached, tuple(statuses))


def _targets(policy: Policy, gateways: Mapping[Key, GatewayState],
             routes: Routes) -> list[TargetRef]:
    """`targetRef`/`targetRefs`, then each object a target selector picks (sorted by name)."""
    out = list(policy.target_refs)
    ns = policy.meta.namespace
    for selector in policy.target_selectors:
        names: list[str] = []
        if selector.kind == "Gateway":
            names = [state.gateway.meta.name for (g_ns, _), state in gateways.items()
                     if g_ns == ns and selector.selector.matches(state.gateway.meta.label_map)]
        elif selector.kind in (*ROUTE_KINDS, *L4_ROUTE_KINDS):
            names = [r.name for r in routes.in_namespace(selector.kind, ns)
                     if _matches(selector.selector, r.labels)]
        out.extend(TargetRef(selector.group, selector.kind, name, None, selector.field)
                   for name in sorted(names))
    return out


def _matches(selector: LabelSelector, labels: tuple[tuple[str, str], ...]) -> bool:
    return selector.matches(dict(labels))


def _allowed_kinds(kind: str) -> tuple[str, ...]:
    if kind == BACKEND_TRAFFIC_POLICY:
        return ("Gateway", *ROUTE_KINDS, *L4_ROUTE_KINDS)
    return ("Gateway",) if kind in (CLIENT_TRAFFIC_POLICY, ENVOY_PATCH_POLICY) \
        else ("Gateway", *ROUTE_KINDS)


def _class_target(policy: Policy, ref: TargetRef, classes: Collection[str],
                  ancestors: dict[tuple[Any, ...], _Ancestor]) -> None:
    """An EnvoyPatchPolicy's GatewayClass target: refused, naming the fix (module docstring)."""
    if policy.kind != ENVOY_PATCH_POLICY or (ref.group or GATEWAY_GROUP) != GATEWAY_GROUP \
            or ref.name not in classes:
        return
    ref_ = ObjectRef(GATEWAY_GROUP, "GatewayClass", "", ref.name)
    ancestor = ancestors.setdefault(ref_.key(), _Ancestor(ref_))
    ancestor.conditions[c.ACCEPTED] = (
        False, INVALID, f"{ref.field}.kind: GatewayClass is a target only when the class's "
        "EnvoyProxy sets mergeGateways, which Propylon does not implement (each Gateway has its "
        f"own Envoy): target the Gateways of class {ref.name} (kind: Gateway) instead")


def _unknown_section(ref: TargetRef, owner: str, part: str, names: list[str],
                     ) -> tuple[str, str] | None:
    """The problem of a `sectionName` naming none of `owner`'s `names` (listeners or rules)."""
    if ref.section_name is None or ref.section_name in names:
        return None
    return (INVALID, f"{ref.field}.sectionName: {owner} has no {part} named "
            f'"{ref.section_name}": name one of its {part}s '
            f"({', '.join(names) or 'it names none'}) or remove sectionName")


def _resolve(policy: Policy, ref: TargetRef, gateways: Mapping[Key, GatewayState],
             routes: Routes, attached: dict[Scope, Policy],
             ancestors: dict[tuple[Any, ...], _Ancestor]) -> None:
    ns = policy.meta.namespace
    if (ref.group or GATEWAY_GROUP) == GATEWAY_GROUP \
            and ref.kind in NOT_APPLIED.get(policy.kind, ()):
        _not_applied(policy, ref, gateways, routes, ancestors)
        return
    if (ref.group or GATEWAY_GROUP) != GATEWAY_GROUP or ref.kind not in _allowed_kinds(
            policy.kind):
        return  # not a kind Propylon serves targets of; another controller's, if anyone's
    found: list[_Ancestor] = []
    problem = None
    if ref.kind == "Gateway":
        state = gateways.get((ns, ref.name))
        if state is None:
            return
        names = [ls.spec.name for ls in state.listeners]
        found = [_ancestor(ns, ref.name, ref.section_name, ancestors)]
        problem = _unknown_section(ref, f"Gateway {ns}/{ref.name}", "listener", names)
        what = (f"Listener {ns}/{ref.name}/{ref.section_name}" if ref.section_name
                else f"Gateway {ref.name}")
    else:
        route = routes.get((ref.kind, ns, ref.name))
        if route is None:
            return
        found = [_ancestor(g_ns, g_name, section, ancestors)
                 for (g_ns, g_name), section in route.parents if (g_ns, g_name) in gateways]
        if not found:
            return
        rules = [r for r in route.rules if r]
        problem = _unknown_section(ref, f"{ref.kind} {ns}/{ref.name}", "rule", rules)
        refused = l4fields.problems(policy.spec_value(), f"{ref.kind} {ns}/{ref.name}") \
            if ref.kind in L4_ROUTE_KINDS else []
        if problem is None and refused:
            problem = (INVALID, "; ".join(refused))
        what = (f"RouteRule {ref.name}/{ref.section_name}" if ref.section_name
                else f"{ref.kind} {ref.name}")
    scope = Scope(ref.kind, ns, ref.name, ref.section_name)
    if problem is None and scope in attached and attached[scope] is not policy \
            and policy.kind != ENVOY_PATCH_POLICY:  # every patch policy of a Gateway applies
        problem = (CONFLICTED, f"Unable to target {what}, another {policy.kind} has already "
                   "attached to it")
    if problem is None:
        attached[scope] = policy  # it takes the target even when its spec has problems
        if policy.problems:
            problem = (INVALID, "; ".join(policy.problems)
                       + (failclosed.NOTICE if failclosed.fails_closed(policy) else ""))
    for ancestor in found:
        if problem is not None:
            ancestor.conditions[c.ACCEPTED] = (False, *problem)
        else:
            ancestor.conditions.setdefault(c.ACCEPTED, (True, c.ACCEPTED, ACCEPTED_MESSAGE))


def _not_applied(policy: Policy, ref: TargetRef, gateways: Mapping[Key, GatewayState],
                 routes: Routes, ancestors: dict[tuple[Any, ...], _Ancestor]) -> None:
    """A target of a kind Propylon does not apply this policy kind to: Accepted False on the
    target's parent Gateways of ours (none: another controller's, no status)."""
    ns = policy.meta.namespace
    target = routes.get((ref.kind, ns, ref.name))
    if target is None:
        return
    instead = "its parent Gateway" if ref.kind == LISTENER_SET \
        else "its parent Gateway or listener"
    message = (f"{ref.field}.kind: Propylon does not apply {policy.kind} to a {ref.kind} "
               f"target yet, so {ref.kind} {ns}/{ref.name} is not governed by this policy: "
               f"target {instead} instead")
    for (g_ns, g_name), section in target.parents:
        if (g_ns, g_name) in gateways:
            ancestor = _ancestor(g_ns, g_name, None if ref.kind == LISTENER_SET else section,
                                 ancestors)
            ancestor.conditions[c.ACCEPTED] = (False, INVALID, message)


def _ancestor(namespace: str, name: str, section: str | None,
              ancestors: dict[tuple[Any, ...], _Ancestor]) -> _Ancestor:
    ref = ObjectRef(GATEWAY_GROUP, "Gateway", namespace, name, section or None)
    return ancestors.setdefault(ref.key(), _Ancestor(ref))


def _ref_key(ref: Mapping[str, Any]) -> tuple[Any, ...]:
    """`ObjectRef.key()` of an ancestorRef as stored (a GatewayClass's has no namespace)."""
    return (ref.get("group"), ref.get("kind"), ref.get("namespace") or "", ref.get("name"),
            ref.get("sectionName"), ref.get("port"))


def _parent(attached: Mapping[Scope, Policy], gateway: Key, section: str | None,
            ) -> Policy | None:
    """The policy of the listener `section` of `gateway`, else of the Gateway."""
    listener = attached.get(Scope("Gateway", *gateway, section)) if section else None
    return listener or attached.get(Scope("Gateway", *gateway))


def _merged_into_closed(attached: Mapping[Scope, Policy], routes: Routes,
                        ancestors: dict[Key, dict[tuple[Any, ...], _Ancestor]]) -> None:
    """A route policy with `mergeType` over a parent policy that fails closed fails with it:
    Accepted False, naming the parent (as Envoy Gateway reports the merged policy's error)."""
    for scope, policy in attached.items():
        if scope.kind == "Gateway" or not policy.merge_type or policy.problems:
            continue
        route = routes.get((scope.kind, scope.namespace, scope.name))
        assert route is not None  # attached, so it was found
        for gateway, section in route.parents:
            parent = _parent(attached, gateway, section)
            if parent is None or not failclosed.fails_closed(parent):
                continue
            for ancestor in ancestors[policy.key].values():
                if (ancestor.ref.namespace, ancestor.ref.name) == gateway:
                    ancestor.conditions[c.ACCEPTED] = (
                        False, INVALID, f"spec.mergeType: it is merged with policy "
                        f"{parent.meta.namespace}/{parent.meta.name}, which cannot be applied: "
                        f"fix that policy{failclosed.NOTICE}")


def _shared(found: Mapping[tuple[Key, Key, str | None], tuple[str, Condition]],
            ancestors: dict[Key, dict[tuple[Any, ...], _Ancestor]]) -> None:
    """The conditions of `found` on the accepted ancestors they name (an Overridden one
    added to the message of the policy's Overridden condition, if any)."""
    for (key, (ns, name), section), (type_, (status, reason, message)) in found.items():
        for ancestor in ancestors[key].values():
            ref = ancestor.ref
            if (ref.namespace, ref.name, ref.section_name) != (ns, name, section) \
                    or not ancestor.conditions.get(c.ACCEPTED, (False,))[0]:
                continue
            if type_ in ancestor.conditions:
                message = f"{ancestor.conditions[type_][2]}; {message}"
            ancestor.conditions[type_] = (status, reason, message)


def _overrides(kind: str, attached: Mapping[Scope, Policy],
               routes: Routes,
               ancestors: dict[Key, dict[tuple[Any, ...], _Ancestor]]) -> None:
    """Overridden and Merged conditions: a parent-scope policy loses (or shares) the routes and
    listeners that have a more specific policy of their own."""
    plural = PLURAL.get(kind, kind)
    usable = {s: p for s, p in attached.items() if not p.problems}
    taken: dict[Key, set[tuple[str, str]]] = {}  # parent policy -> (what, name) overriding it
    merged_into: dict[Key, set[str]] = {}
    for scope, policy in usable.items():
        if scope.kind == "Gateway" and scope.section is not None:
            parent = usable.get(Scope("Gateway", scope.namespace, scope.name))
            if parent is not None:
                taken.setdefault(parent.key, set()).add(
                    ("listeners", f"{scope.namespace}/{scope.name}/{scope.section}"))
            continue
        if scope.kind == "Gateway":
            continue
        route = routes.get((scope.kind, scope.namespace, scope.name))
        assert route is not None  # attached, so it was found
        if scope.section is not None:
            whole = usable.get(Scope(scope.kind, scope.namespace, scope.name))
            if whole is not None:
                taken.setdefault(whole.key, set()).add(
                    ("route rules", f"{scope.namespace}/{scope.name}/{scope.section}"))
        label = f"{route.namespace}/{route.name}"
        for (g_ns, g_name), section in route.parents:
            parent = _parent(usable, (g_ns, g_name), section)
            if parent is None:
                continue
            if policy.merge_type and scope.section is None:
                merged_into.setdefault(parent.key, set()).add(label)
                for ancestor in ancestors[policy.key].values():
                    if (ancestor.ref.namespace, ancestor.ref.name) == (g_ns, g_name):
                        ancestor.conditions[MERGED] = (
                            True, MERGED, f"Merged with policy {parent.meta.namespace}/"
                                          f"{parent.meta.name}")
            else:
                taken.setdefault(parent.key, set()).add(("routes", label))
    for key, items in taken.items():
        groups = {what: sorted(n for w, n in items if w == what)
                  for what in ("listeners", "routes", "route rules")}
        text = ", ".join(f"these {what}: [{' '.join(names)}]"
                         for what, names in groups.items() if names)
        for ancestor in ancestors[key].values():
            if ancestor.conditions.get(c.ACCEPTED, (False,))[0]:
                ancestor.conditions[OVERRIDDEN] = (
                    True, OVERRIDDEN, f"This policy is being overridden by other {plural} for "
                                      f"{text}")
    for key, names in merged_into.items():
        for ancestor in ancestors[key].values():
            if ancestor.conditions.get(c.ACCEPTED, (False,))[0]:
                ancestor.conditions[MERGED] = (
                    True, MERGED, f"This policy is being merged by other {plural} for these "
                                  f"routes: [{' '.join(sorted(names))}]")
