"""`translate(snapshot) -> Result`: the whole graph, as a recipe of stages run top to bottom.

`_translate` reads as the recipe; each stage takes the values earlier ones returned:

1. `_decoded`: the objects every later stage reads (ReferenceGrants, Secrets, ConfigMaps,
   Namespaces' labels, GatewayParameters), decoded.
2. `_classes`: the GatewayClasses of our controller, their status, and the names of ours.
3. `_gateways`: the Gateways of those classes, listeners evaluated (`gateways.evaluate`), with
   their backend client certificate; then `parameters.judge` rejects those whose own or whose
   class's parametersRef is invalid and gives the others their proxy parameters, and
   `listenersets.evaluate` judges the ListenerSets of ours (accepted ones join their Gateway).
4. `_backends`: what backendRefs resolve to (`Backends`: Services, ReferenceGrants,
   BackendTLSPolicies, ConfigMaps) and the Services' ready endpoints (`Endpoints`).
5. `_routes`: HTTPRoutes, GRPCRoutes (attached like HTTPRoutes), TLSRoutes, TCPRoutes and
   UDPRoutes (attached like TLSRoutes), each route's
   rules translated and attached to listeners; each route's status entries are returned.
6. Placements: what every listener of the pass has attached (`Memo.placements`), once every
   route is attached.
7. `_statuses`: BackendTLSPolicies' ancestors (the Gateways their routes use), the ListenerSets'
   and the Gateways' status (attachedRoutes, Programmed from the infrastructure state, what
   Envoy refused of listeners and certificates).
8. `_irs`: per accepted Gateway its InfraIR, and when it has an address its IR
   (`gatewayir.build`), whose clusters the backends stage then finishes
   (`backends.finish_clusters`: endpoints, the backend client certificate).
9. `policies.apply`: Envoy Gateway's policies attached (their `status.ancestors`) and their
   settings put on the IR route entries and clusters they govern.
10. What Envoy refused of routes (`snapshot.rejections`) goes into the routes' conditions
   (`rejections.refuse_routes`).

Objects that are not ours get no status. Nothing here raises on bad input: every problem
becomes a condition.

The `Memo` (the controller keeps one; `translate(snapshot)` uses a fresh one, the full rebuild)
is a cache around these stages' per-object work: objects unchanged since the previous pass are
not decoded again, and a route's decoding, rules and attachment are frozen values reused while
the inputs each is keyed on are the same (its rules while its backend lookups answer as
before, its attachment while Gateways, ListenerSets and Namespaces are unchanged), virtual
hosts whose routes are unchanged and clusters whose endpoints are unchanged are reused; the
result is the same as without one (see `memo`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from propylon.api import egbackend, routefilter
from propylon.api.core import ConfigMap, EndpointSlice, Namespace, Secret, Service
from propylon.api.egbackend import EgBackend
from propylon.api.envoygateway import POLICY_KINDS, Policy
from propylon.api.gateway import Gateway, GatewayClass, ReferenceGrant
from propylon.api.grpcroute import GRPCRoute
from propylon.api.httproute import HTTPRoute
from propylon.api.l4route import L4Route
from propylon.api.meta import ObjectMeta
from propylon.api.routefilter import RouteFilter
from propylon.api.tlsroute import TLSRoute
from propylon.ir.model import (
    GatewayIR,
    GatewayKey,
    InfraIR,
    InfraListener,
    ProxyParameters,
)
from propylon.translate import (
    backendtls,
    egbackends,
    gatewayir,
    gateways,
    grpcroute,
    httproute,
    listenersets,
    policies,
    routefilters,
    telemetry,
    tlsroute,
)
from propylon.translate.backends import Answers, Backends, Endpoints, finish_clusters
from propylon.translate.gatewayclass import class_status
from propylon.translate.gateways import GatewayState
from propylon.translate.listenersets import SetState
from propylon.translate.memo import Memo, attach_context, object_key
from propylon.translate.parameters import Resolver
from propylon.translate.placements import ListenerId, Placements
from propylon.translate.policies.attachment import OTHER_KINDS
from propylon.translate.policies.authn import service_clusters
from propylon.translate.references import Grants
from propylon.translate.rejections import refuse_routes
from propylon.translate.statuses import ParentStatus, RouteStatus
from propylon.translate.types import Result, Snapshot, StatusUpdate

# what `Backends` reads: while these objects are the same, last pass's answers hold
BACKEND_KINDS = ("Service", "ReferenceGrant", backendtls.KIND, "ConfigMap", routefilter.KIND,
                 egbackend.KIND)
Key = tuple[str, str]  # namespace, name
T = TypeVar("T")


def translate(snapshot: Snapshot, memo: Memo | None = None) -> Result:
    memo = memo if memo is not None else Memo()
    result = _translate(snapshot, memo)
    memo.pass_done()
    return result


def _translate(snapshot: Snapshot, memo: Memo) -> Result:
    inputs = _decoded(snapshot, memo)
    ours, class_statuses = _classes(snapshot, memo, inputs.parameters)
    states, proxies, sets = _gateways(snapshot, memo, ours, inputs)
    backends, endpoints = _backends(snapshot, memo, inputs)
    route_statuses = _routes(snapshot, memo, states, sets, inputs, backends)
    logged = telemetry.resolve(states, inputs.parameters.telemetry, backends, endpoints)
    states = telemetry.noted(states, logged)
    placed = memo.placements([*(ls.at for gw in states.values() for ls in gw.listeners),
                              *(ls.at for s in sets.values() for ls in s.listeners)])
    statuses = [*class_statuses, *route_statuses,
                *_statuses(snapshot, states, sets, placed, backends)]
    irs, infras = _irs(snapshot, memo, states, proxies, placed, backends, endpoints)
    irs, policy_statuses = policies.apply(policies.Inputs(
        {kind: snapshot.of(kind) for kind in POLICY_KINDS},
        {kind: snapshot.of(kind) for kind in (httproute.KIND, grpcroute.KIND, *OTHER_KINDS)},
        inputs.config_maps, service_clusters(backends, endpoints), inputs.secrets,
        inputs.grants, backends, endpoints, snapshot.rejections, ours),
        states, irs, snapshot.controller_name, snapshot.now,
        lambda obj: memo.decode(Policy.decode, obj, object_key(obj)), memo.policies)
    statuses.extend(policy_statuses)
    irs = telemetry.apply(irs, logged, memo.telemetry)
    if snapshot.rejections:
        statuses = refuse_routes(statuses, snapshot.rejections, irs, {
            kind: snapshot.of(kind) for kind in (httproute.KIND, grpcroute.KIND)},
            snapshot.of("ListenerSet"), snapshot.now)
    return Result(tuple(statuses), irs, infras)


@dataclass(frozen=True)
class _Inputs:
    """The objects several stages read, decoded."""

    grants: Grants
    secrets: Mapping[Key, Secret]
    config_maps: Mapping[Key, ConfigMap]
    namespace_labels: Mapping[str, dict[str, str]]
    parameters: Resolver


def _decoded(snapshot: Snapshot, memo: Memo) -> _Inputs:
    def of(kind: str, decode: Callable[[dict[str, Any]], T]) -> list[T]:
        return [memo.decode(decode, o, object_key(o)) for o in snapshot.of(kind)]

    return _Inputs(
        Grants(of("ReferenceGrant", ReferenceGrant.decode)),
        {(s.meta.namespace, s.meta.name): s for s in of("Secret", Secret.decode)},
        {(m.meta.namespace, m.meta.name): m for m in of("ConfigMap", ConfigMap.decode)},
        {n.meta.name: n.meta.label_map for n in of("Namespace", Namespace.decode)},
        Resolver(snapshot.of("GatewayParameters"), snapshot.of("EnvoyProxy")))


def _classes(snapshot: Snapshot, memo: Memo,
             parameters: Resolver) -> tuple[frozenset[str], list[StatusUpdate]]:
    """The names of our GatewayClasses, and their statuses."""
    ours, statuses = set(), []
    for obj in snapshot.of("GatewayClass"):
        gc = memo.decode(GatewayClass.decode, obj, object_key(obj))
        if gc.controller_name == snapshot.controller_name:
            ours.add(gc.meta.name)
            statuses.append(class_status(obj, gc, snapshot.now, parameters.of_class(obj)))
    return frozenset(ours), statuses


def _gateways(snapshot: Snapshot, memo: Memo, ours: frozenset[str], inputs: _Inputs,
              ) -> tuple[dict[Key, GatewayState], dict[Key, ProxyParameters], dict[Key, SetState]]:
    """Our Gateways evaluated, the proxy parameters of those not rejected for them, and the
    ListenerSets of our Gateways."""
    states = {}
    for obj in snapshot.of("Gateway"):
        gw = memo.decode(Gateway.decode, obj, object_key(obj))
        if gw.class_name in ours:
            states[(gw.meta.namespace, gw.meta.name)] = replace(
                gateways.evaluate(obj, gw, inputs.secrets, inputs.grants, snapshot.now,
                                  inputs.config_maps),
                backend_certificate=backendtls.gateway_client_certificate(
                    obj, inputs.secrets, inputs.grants))
    states, proxies = inputs.parameters.judge(states)
    states, judged = listenersets.evaluate(snapshot.of("ListenerSet"), states,
                                           inputs.namespace_labels, inputs.secrets,
                                           inputs.grants, snapshot.now)
    return states, proxies, {s.key: s for s in judged}


def _backends(snapshot: Snapshot, memo: Memo, inputs: _Inputs) -> tuple[Backends, Endpoints]:
    def new_backends(known: Answers) -> Backends:
        services = [memo.decode(Service.decode, o, object_key(o)) for o in snapshot.of("Service")]
        tls = backendtls.BackendTLS(snapshot.of(backendtls.KIND), services,
                                    inputs.config_maps.values())
        filters = routefilters.RouteFilters(
            (memo.decode(RouteFilter.decode, o, object_key(o))
             for o in snapshot.of(routefilter.KIND)), inputs.config_maps.values())
        return Backends(services, inputs.grants, tls, known, filters,
                        (memo.decode(EgBackend.decode, o, object_key(o))
                         for o in snapshot.of(egbackend.KIND)))

    backends = memo.backends(tuple(snapshot.of(k) for k in BACKEND_KINDS), new_backends)
    endpoints = memo.endpoints(snapshot.of("EndpointSlice"), lambda: Endpoints(
        memo.decode(EndpointSlice.decode, o, object_key(o)) for o in snapshot.of("EndpointSlice")))
    return backends, endpoints


def _routes(snapshot: Snapshot, memo: Memo, states: Mapping[Key, GatewayState],
            sets: Mapping[Key, SetState], inputs: _Inputs,
            backends: Backends) -> tuple[StatusUpdate, ...]:
    """Every route translated and attached; the statuses of the routes with a parent of ours."""
    context = memo.context(attach_context(states, sets, inputs.namespace_labels,
                                          snapshot.controller_name), snapshot.now)
    # GRPCRoutes share HTTPRoute's attachment; only decoding and rule translation differ
    route_kinds: tuple[tuple[str, Callable[..., Any], Callable[..., Any], Callable[..., Any]],
                       ...] = (
        (httproute.KIND, HTTPRoute.decode, httproute.translate_rules,
         partial(httproute.attach, kind=httproute.KIND)),
        (grpcroute.KIND, GRPCRoute.decode, grpcroute.translate_rules,
         partial(httproute.attach, kind=grpcroute.KIND)),
        (tlsroute.KIND, TLSRoute.decode, tlsroute.translate_backends, tlsroute.attach),
        *((kind, L4Route.decode, partial(tlsroute.translate_backends, kind=kind),
           partial(tlsroute.attach, kind=kind)) for kind in (tlsroute.TCP_KIND, tlsroute.UDP_KIND)))
    for kind, decode, translate_rules, attach in route_kinds:
        for obj in memo.candidates(kind, snapshot.of(kind)):
            rid = memo.seen(kind, obj)
            decoded = memo.decode_route(rid, decode, obj)
            route = decoded.route
            rules = memo.rules(rid, decoded, backends, partial(translate_rules, route, backends))
            parents = memo.attach(rid, obj, rules, context, snapshot.now, partial(
                attach, obj, route, rules, states, inputs.namespace_labels,
                snapshot.controller_name, listener_sets=sets))
            memo.update(rid, parents, partial(_route_update, obj, kind, route.meta, parents))
    return memo.route_statuses()


def _statuses(snapshot: Snapshot, states: Mapping[Key, GatewayState],
              sets: Mapping[Key, SetState], placed: Mapping[ListenerId, Placements],
              backends: Backends) -> list[StatusUpdate]:
    """BackendTLSPolicies' (after every route kind has attached, so policies see the Gateways
    all their routes use), ListenerSets' and Gateways' statuses."""
    now = snapshot.now
    out = backends.tls.statuses(states, placed, snapshot.controller_name, now)
    out.extend(egbackends.statuses(snapshot.of(egbackend.KIND), backends, now))
    for s in sets.values():
        gw = s.gateway.gateway
        key = GatewayKey(gw.meta.namespace, gw.meta.name)
        out.append(listenersets.status(s, placed, snapshot.infra.get(key), now,
                                       snapshot.rejections.get(key)))
    for (ns, name), state in states.items():
        key = GatewayKey(ns, name)
        out.append(gateways.status(state, placed, snapshot.infra.get(key), now,
                                   snapshot.rejections.get(key)))
    return out


def _irs(snapshot: Snapshot, memo: Memo, states: Mapping[Key, GatewayState],
         proxies: Mapping[Key, ProxyParameters], placed: Mapping[ListenerId, Placements],
         backends: Backends, endpoints: Endpoints,
         ) -> tuple[dict[GatewayKey, GatewayIR], dict[GatewayKey, InfraIR]]:
    """Each accepted Gateway's InfraIR, and its IR when it has an address."""
    irs: dict[GatewayKey, GatewayIR] = {}
    infras: dict[GatewayKey, InfraIR] = {}
    for (ns, name), state in states.items():
        key = GatewayKey(ns, name)
        infra = snapshot.infra.get(key)
        if not state.accepted:
            continue
        infras[key] = _infra_ir(key, state, proxies[(ns, name)])
        if infra is not None and infra.address is not None:
            ir = gatewayir.build(key, gateways.servable_listeners(state, infra), placed, infra,
                                 infra.bind_address or infra.address, memo.tables)
            irs[key] = finish_clusters(ir, backends, endpoints,
                                       backendtls.usable(state.backend_certificate),
                                       memo.clusters)
    return irs, infras


def _route_update(obj: dict[str, Any], kind: str, meta: ObjectMeta,
                  parents: tuple[ParentStatus, ...]) -> StatusUpdate:
    return StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")), kind,
                        meta.namespace, meta.name, meta.generation, RouteStatus(parents))


def _infra_ir(key: GatewayKey, state: GatewayState, proxy: ProxyParameters) -> InfraIR:
    gw = state.gateway
    return InfraIR(
        key, gw.class_name,
        tuple(InfraListener(ls.ir_name, ls.spec.port, ls.spec.protocol)
              for ls in gateways.all_listeners(state) if ls.usable),
        tuple(a.value for a in gw.addresses if a.type == "IPAddress" and a.value),
        gw.infra_labels, gw.infra_annotations, proxy)


__all__ = ["translate"]
