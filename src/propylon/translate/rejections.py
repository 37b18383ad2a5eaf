"""What Envoy refused, written into the status of the objects that produced it.

The xDS server reports, per Gateway, the resources its Envoys refuse with Envoy's messages
(`ir.Rejections`); the controller puts them in the `Snapshot`, as it does the infrastructure's
state, and the translator writes them here, without I/O:

- a listener (`gateways.refuse_listener`, called while the Gateway's status is built, since the
  Gateway's Programmed follows its listeners'): the Envoy listener
  of a port (`<namespace>/<name>/<port>`) refused makes every Gateway listener on that port
  Programmed False (Invalid) with Envoy's message; a certificate Secret refused makes the
  listeners using it ResolvedRefs False (InvalidCertificateRef) and Programmed False;
- a route (`refuse_routes`): route entries the xDS server left out of their virtual host (named
  `<kind>/<namespace>/<name>/rule/<i>/match/<j>`), and routes sending traffic to a refused
  cluster. In the route's parent entries for that Gateway, as the spec's route conditions
  require for dropped rules: PartiallyInvalid True (UnsupportedValue, a message starting with
  "Dropped Rule") while other rules are served, Accepted False (UnsupportedValue) when none
  is; a refused cluster makes the route ResolvedRefs False (UnsupportedValue).

Conditions keep their lastTransitionTime from the object's own status, like every other
condition (`conditions.Conditions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from propylon.api.meta import stored_conditions
from propylon.ir.model import GatewayIR, GatewayKey, Rejections
from propylon.translate import conditions as c
from propylon.translate.parents import ref_key
from propylon.translate.statuses import ParentStatus, RouteStatus
from propylon.translate.types import Now, StatusUpdate

ROUTE_KINDS = {"httproute": "HTTPRoute", "grpcroute": "GRPCRoute"}


def refuse_routes(statuses: Iterable[StatusUpdate], rejections: Mapping[GatewayKey, Rejections],
                  irs: Mapping[GatewayKey, GatewayIR], routes: Mapping[str, Iterable[dict[str, Any]]],
                  listener_sets: Iterable[dict[str, Any]], now: Now) -> list[StatusUpdate]:
    """`statuses` with the refusals of `rejections` written into the routes' parent entries.
    `routes` maps a route kind to its objects, `listener_sets` are the ListenerSet objects
    (a route attached through one belongs to that ListenerSet's Gateway)."""
    refused = _refused(rejections, irs)
    if not refused:
        return list(statuses)
    objects = {(kind, o["metadata"].get("namespace"), o["metadata"].get("name")): o
               for kind, objs in routes.items() for o in objs
               if (kind, o["metadata"].get("namespace"), o["metadata"].get("name")) in refused}
    gateway_of = {(s["metadata"].get("namespace"), s["metadata"].get("name")): _parent(s)
                  for s in listener_sets}
    out = []
    for update in statuses:
        key = (update.kind, update.namespace, update.name)
        if key in refused and key in objects:
            update = _route_update(update, objects[key], refused[key], gateway_of, now)
        out.append(update)
    return out


# (kind, namespace, name) -> Gateway -> (rule index -> Envoy's message, cluster messages)
Refused = dict[tuple[str, str | None, str], dict[GatewayKey, tuple[dict[int, str], list[str]]]]


def _refused(rejections: Mapping[GatewayKey, Rejections],
             irs: Mapping[GatewayKey, GatewayIR]) -> Refused:
    refused: Refused = {}

    def entry(route_name: str, gateway: GatewayKey) -> tuple[dict[int, str], list[str]] | None:
        parts = route_name.split("/")
        if len(parts) != 7 or parts[0] not in ROUTE_KINDS or parts[3] != "rule":
            return None
        per_gateway = refused.setdefault((ROUTE_KINDS[parts[0]], parts[1], parts[2]), {})
        return per_gateway.setdefault(gateway, ({}, []))

    for gateway, rejected in rejections.items():
        for name, message in rejected.routes.items():
            found = entry(name, gateway)
            if found is not None:
                found[0].setdefault(int(name.split("/")[4]), message)
        ir = irs.get(gateway)
        if not rejected.clusters or ir is None:
            continue
        for config in ir.route_configs:
            for vhost in config.virtual_hosts:
                for route in vhost.routes:
                    used = ({b.cluster for b in route.backends if b.cluster is not None}
                            | {m.cluster for m in route.mirrors})
                    for cluster in sorted(used & rejected.clusters.keys()):
                        found = entry(route.name, gateway)
                        text = f'backend cluster "{cluster}": {rejected.clusters[cluster]}'
                        if found is not None and text not in found[1]:
                            found[1].append(text)
    return refused


def _parent(listener_set: dict[str, Any]) -> GatewayKey:
    ref = (listener_set.get("spec") or {}).get("parentRef") or {}
    return GatewayKey(ref.get("namespace") or listener_set["metadata"].get("namespace"),
                      ref.get("name", ""))


def _route_update(update: StatusUpdate, obj: dict[str, Any],
                  refused: dict[GatewayKey, tuple[dict[int, str], list[str]]],
                  gateway_of: Mapping[tuple[str, str], GatewayKey], now: Now) -> StatusUpdate:
    rules = len((obj.get("spec") or {}).get("rules") or ()) or 1
    previous = {(p.get("controllerName"), ref_key(p.get("parentRef") or {})):
                stored_conditions(p.get("conditions"))
                for p in (obj.get("status") or {}).get("parents") or () if isinstance(p, dict)}
    if not isinstance(update.status, RouteStatus):
        return update
    parents: list[ParentStatus] = []
    for entry in update.status.parents:
        ref = entry.ref
        where = (ref.namespace, ref.name)
        gateway = GatewayKey(*where) if ref.kind == "Gateway" else gateway_of.get(where)
        found = refused.get(gateway) if gateway is not None else None
        if found is None:
            parents.append(entry)
            continue
        conds = c.Conditions(previous.get((entry.controller_name, ref.key()), ()),
                             update.generation, now)
        translated_drops = ""  # rules translation already dropped (a regex RE2 refuses...)
        for cond in entry.conditions:
            conds.set(cond.type, cond.status, cond.reason, cond.message)
            if cond.type == c.PARTIALLY_INVALID and cond.status:
                translated_drops = f"{cond.message}; "
        dropped, clusters = found
        if dropped:
            text = "; ".join(f"rule {i}: {m}" for i, m in sorted(dropped.items()))
            if len(dropped) >= rules:
                conds.set(c.ACCEPTED, False, c.UNSUPPORTED_VALUE,
                          f"Envoy refused every rule, none is served: {text}; fix the rules")
            else:
                conds.set(c.PARTIALLY_INVALID, True, c.UNSUPPORTED_VALUE,
                          f"{translated_drops}Dropped Rule(s) "
                          f"{', '.join(map(str, sorted(dropped)))}: Envoy refused {text}; "
                          "fix these rules")
        if clusters:
            conds.set(c.RESOLVED_REFS, False, c.UNSUPPORTED_VALUE,
                      "Envoy refused " + "; ".join(clusters))
        parents.append(replace(entry, conditions=conds.as_tuple()))
    return replace(update, status=RouteStatus(tuple(parents)))
