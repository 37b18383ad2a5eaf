"""Status expectations of the case format, checked like the Go helpers (cases/README.md).

`check(entry, obj, controller, seen)` is pure: it returns None when the object `obj` (the live
object as a dict, None when missing) satisfies one status entry, else the reason. `seen` counts
the polls that already read the object (the route parent rules and `noAcceptedParents` depend on
it). `timeout_s(entry)` is the harness timeout for the entry's kind (Gateway conditions and
addresses 180 s, everything else 60 s). `wait(...)` polls an entry (every 1 s, like the route
helpers) until it holds or times out, or reads it once for `oneShot` entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

GROUP = "gateway.networking.k8s.io"
EG_POLICY_KINDS = ("SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy",
                   "EnvoyExtensionPolicy")
_REF_FIELDS = ("group", "kind", "namespace", "name", "sectionName", "port")
GATEWAY_TIMEOUT_S = 180.0
DEFAULT_TIMEOUT_S = 60.0
POLL_S = 1.0

Getter = Callable[[str, str | None, str], Awaitable[dict[str, Any] | None]]


def timeout_s(entry: Mapping[str, Any]) -> float:
    if entry.get("kind") in ("Gateway", "ListenerSet") and (entry.get("hasAddress")
                                                          or entry.get("conditions")):
        return GATEWAY_TIMEOUT_S
    return DEFAULT_TIMEOUT_S


def _want(spec: Any) -> tuple[str, str | None]:
    if isinstance(spec, Mapping):
        return str(spec.get("status")), spec.get("reason")
    return str(spec), None


def missing_conditions(actual: list[Mapping[str, Any]] | None,
                       expected: Mapping[str, Any]) -> str | None:
    """None when every expected condition (type -> status or {status, reason}) is present;
    status `any` only requires the condition to exist."""
    by_type = {c.get("type"): c for c in actual or []}
    for ctype, spec in expected.items():
        status, reason = _want(spec)
        cond = by_type.get(ctype)
        if cond is None:
            return f"no {ctype} condition"
        if status == "any":
            continue
        if cond.get("status") != status or (reason and cond.get("reason") != reason):
            return (f"{ctype} is {cond.get('status')}/{cond.get('reason')}, expected "
                    f"{status}{'/' + reason if reason else ''}")
    return None


def stale(conditions: list[Mapping[str, Any]] | None, generation: int) -> str | None:
    for cond in conditions or []:
        if cond.get("observedGeneration") != generation:
            return (f"condition {cond.get('type')} has observedGeneration "
                    f"{cond.get('observedGeneration')}, generation is {generation}")
    return None


def check(entry: Mapping[str, Any], obj: Mapping[str, Any] | None, controller: str,
          seen: int = 0) -> str | None:
    kind = entry.get("kind")
    if obj is None:
        return f"{kind} {entry.get('namespace')}/{entry.get('name')} does not exist"
    if kind in ("Gateway", "ListenerSet"):
        return _gateway(entry, obj)
    if kind == "GatewayClass":
        return _gatewayclass(entry, obj)
    if kind == "BackendTLSPolicy":
        return _policy(entry, obj)
    if kind in EG_POLICY_KINDS:
        return _eg_policy(entry, obj, controller)
    return _route(entry, obj, controller, seen)


def _generation(obj: Mapping[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _gatewayclass(entry: Mapping[str, Any], obj: Mapping[str, Any]) -> str | None:
    conds = (obj.get("status") or {}).get("conditions")
    return stale(conds, _generation(obj)) or missing_conditions(conds, entry.get("conditions")
                                                                or {})


def _listener(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    name = actual.get("name")
    if "attachedRoutes" in expected and actual.get("attachedRoutes") != expected["attachedRoutes"]:
        return (f"listener {name} has attachedRoutes {actual.get('attachedRoutes')}, expected "
                f"{expected['attachedRoutes']}")
    if "supportedKinds" in expected:
        kinds = {(k.get("group") or GROUP, k.get("kind")) for k in actual.get("supportedKinds")
                 or []}
        want = {(k.get("group") or GROUP, k.get("kind")) for k in expected["supportedKinds"] or []}
        if (not want and kinds) or not want <= kinds:
            return f"listener {name} supportedKinds {sorted(kinds)}, expected {sorted(want)}"
    reason = missing_conditions(actual.get("conditions"), expected.get("conditions") or {})
    return f"listener {name}: {reason}" if reason else None


def _gateway(entry: Mapping[str, Any], obj: Mapping[str, Any]) -> str | None:
    status = obj.get("status") or {}
    generation = _generation(obj)
    reason = stale(status.get("conditions"), generation)
    if reason:
        return reason
    if entry.get("latestObservedGeneration"):
        for listener in status.get("listeners") or []:
            reason = stale(listener.get("conditions"), generation)
            if reason:
                return f"listener {listener.get('name')}: {reason}"
    reason = missing_conditions(status.get("conditions"), entry.get("conditions") or {})
    if reason:
        return reason
    if entry.get("hasAddress") and not any(a.get("type") for a in status.get("addresses") or []):
        return f"no status.addresses entry with a type: {status.get('addresses')}"
    if "addresses" in entry and [(a.get("type"), a.get("value")) for a in status.get(
            "addresses") or []] != [(a.get("type"), a.get("value")) for a in entry["addresses"]]:
        return f"status.addresses {status.get('addresses')}, expected exactly {entry['addresses']}"
    listeners = status.get("listeners") or []
    if entry.get("allListeners"):
        for listener in listeners:
            reason = _listener(listener, entry["allListeners"])
            if reason:
                return reason
        if not listeners:
            return "no listener status"
    by_name = {lis.get("name"): lis for lis in listeners}
    exact = entry.get("listenersExact")
    if exact is not None and set(by_name) != set(exact):
        return f"listeners {sorted(by_name)}, expected exactly {sorted(exact)}"
    for name, expected in {**(exact or {}), **(entry.get("listeners") or {})}.items():
        if name not in by_name:
            return f"no status for listener {name}"
        reason = _listener(by_name[name], expected or {})
        if reason:
            return reason
    if entry.get("zeroRoutes") and listeners and not (
            len(listeners) == 1 and listeners[0].get("attachedRoutes") == 0):
        return f"expected zero attached routes, listeners are {listeners}"
    if "attachedListenerSets" in entry:
        count = status.get("attachedListenerSets") or 0
        if count != entry["attachedListenerSets"]:
            return f"attachedListenerSets is {count}, expected {entry['attachedListenerSets']}"
    return None


def _policy(entry: Mapping[str, Any], obj: Mapping[str, Any]) -> str | None:
    ancestors = (obj.get("status") or {}).get("ancestors") or []
    if entry.get("latestObservedGeneration"):
        for ancestor in ancestors:
            reason = stale(ancestor.get("conditions"), _generation(obj))
            if reason:
                return reason
    if "ancestor" not in entry:
        return None
    want = entry["ancestor"]
    reasons = []
    for ancestor in ancestors:
        ref = ancestor.get("ancestorRef") or {}
        if ref.get("name") == want.get("name") and ref.get("namespace") in (
                None, want.get("namespace")):
            reason = missing_conditions(ancestor.get("conditions"), entry.get("conditions") or {})
            if reason is None:
                return None
            reasons.append(reason)
    return "; ".join(reasons) or f"no ancestor {want.get('name')} in status"


def _eg_policy(entry: Mapping[str, Any], obj: Mapping[str, Any], controller: str) -> str | None:
    """Envoy Gateway's policy helpers: some ancestor of our controller whose ancestorRef is
    exactly `ancestor` carries the listed conditions (status, and `messageContains`)."""
    want = {k: entry["ancestor"].get(k) for k in _REF_FIELDS}
    reasons = []
    for ancestor in (obj.get("status") or {}).get("ancestors") or []:
        ref = ancestor.get("ancestorRef") or {}
        if ancestor.get("controllerName") != controller or \
                {k: ref.get(k) for k in _REF_FIELDS} != want:
            continue
        by_type = {c.get("type"): c for c in ancestor.get("conditions") or []}
        for ctype, spec in (entry.get("conditions") or {}).items():
            status, _ = _want(spec)
            cond = by_type.get(ctype) or {}
            text = spec.get("messageContains") if isinstance(spec, Mapping) else None
            if cond.get("status") != status or (text and text not in str(cond.get("message"))):
                reasons.append(f"{ctype} is {cond.get('status')} ({cond.get('message')}), "
                               f"expected {status}" + (f" containing {text!r}" if text else ""))
                break
        else:
            return None
    return "; ".join(reasons) or (f"no status.ancestors entry of {controller} for "
                                  f"{entry['ancestor']}")


def _parent_match(parent: Mapping[str, Any], want: Mapping[str, Any], controller: str,
                  namespace_required: bool) -> bool:
    ref = parent.get("parentRef") or {}
    namespace = ref.get("namespace")
    return (parent.get("controllerName") == controller
            and ref.get("group") == want.get("group", GROUP)
            and ref.get("kind") == want.get("kind", "Gateway")
            and ref.get("name") == want.get("name")
            and (namespace == want.get("namespace")
                 or (namespace is None and not namespace_required)))


def _route(entry: Mapping[str, Any], obj: Mapping[str, Any], controller: str,
           seen: int) -> str | None:
    parents = (obj.get("status") or {}).get("parents") or []
    generation = _generation(obj)
    if entry.get("noAcceptedParents"):
        if not parents:
            return None if seen >= 1 else "parents empty on the first poll; polling again"
        accepted = [c for c in parents[0].get("conditions") or [] if c.get("type") == "Accepted"]
        if len(parents) == 1 and accepted and accepted[0].get("status") == "False":
            return None
        return f"expected no accepted parent, parents are {parents}"
    conditions = dict(entry.get("conditions") or {})
    if entry.get("latestObservedGeneration") or (conditions and not entry.get("parentMatch")):
        for parent in parents:
            reason = stale(parent.get("conditions"), generation)
            if reason and (entry.get("latestObservedGeneration")
                           or _condition_only(conditions)):
                return reason
    want = entry.get("parent") or {}
    by_parent = {k: v for k, v in conditions.items()
                 if entry.get("parentMatch") or _is_parent_match(v, k)}
    only = {k: v for k, v in conditions.items() if k not in by_parent}
    if by_parent:
        candidates = [p for p in parents if _parent_match(
            p, want, controller, bool(entry.get("parentNamespaceRequired")))]
        if not candidates:
            return f"no status.parents entry matching {dict(want)} with controller {controller}: {parents}"
        reasons = [missing_conditions(p.get("conditions"), by_parent) for p in candidates]
        if None not in reasons:
            return reasons[0]
    if only:
        missing: list[str] = []
        for parent in parents:
            ref = parent.get("parentRef") or {}
            if ref.get("name") == want.get("name") and ref.get("namespace") in (
                    None, want.get("namespace")):
                reason = missing_conditions(parent.get("conditions"), only)
                if reason is None:
                    return None
                missing.append(reason)
        return "; ".join(missing) or f"no parent {want.get('name')} in status: {parents}"
    return None


def _is_parent_match(spec: Any, ctype: str) -> bool:
    status, reason = _want(spec)
    return ctype == "Accepted" and status == "True" and reason == "Accepted"


def _condition_only(conditions: Mapping[str, Any]) -> bool:
    return any(not _is_parent_match(v, k) for k, v in conditions.items())


async def wait(entry: Mapping[str, Any], get: Getter, controller: str,
               timeout: float) -> str | None:
    """Poll one entry until it holds (None) or the timeout passes (the last reason)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = 0
    while True:
        obj = await get(str(entry["kind"]), entry.get("namespace"), str(entry["name"]))
        reason = check(entry, obj, controller, seen)
        seen += 1
        if reason is None:
            return None
        if entry.get("oneShot") or loop.time() >= deadline:
            return f"{entry['kind']} {entry.get('namespace')}/{entry['name']}: {reason}"
        await asyncio.sleep(POLL_S)
