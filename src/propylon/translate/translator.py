"""`translate(snapshot) -> Result`: the whole graph, rebuilt from scratch on every call.

Order of work: GatewayClasses of our controller (status, and the set of accepted class names);
Gateways of those classes (listeners evaluated; rejected when their own or their class's
parametersRef is invalid, see `parameters`); ListenerSets of those Gateways (accepted ones merged
into their Gateway); HTTPRoutes (rules translated once, then attached
to listeners, parent status); GRPCRoutes (the same, through HTTPRoute's attachment); TLSRoutes (the same, to TLS listeners); then the ListenerSets'
status; then, per Gateway, its status (now that attachedRoutes and the
infrastructure state are known), its InfraIR when accepted, and its IR when it has an address.
Objects that are not ours get no status. Nothing here raises on bad input: every problem becomes
a condition. What Envoy refused (`snapshot.rejections`) is written last, into the listeners'
and routes' conditions (`rejections`). BackendTLSPolicies are resolved before routes (the routes' clusters carry their
TLS settings) and get their ancestor status once routes are attached.

With a `Memo` (the controller keeps one), objects unchanged since the previous pass are not
decoded again, routes whose backends resolve as before keep their translated rules, their
attachments are replayed while Gateways, ListenerSets and Namespaces are unchanged, and
virtual hosts whose routes are unchanged are reused; the result is the same as without one
(see `memo`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from propylon.api.core import ConfigMap, EndpointSlice, Namespace, Secret, Service
from propylon.api.gateway import Gateway, GatewayClass, ReferenceGrant
from propylon.api.grpcroute import GRPCRoute
from propylon.api.httproute import HTTPRoute
from propylon.api.meta import ObjectMeta
from propylon.api.tlsroute import TLSRoute
from propylon.ir.model import GatewayIR, GatewayKey, InfraIR, InfraListener, ProxyParameters
from propylon.translate import (
    backendtls,
    gateways,
    gatewayir,
    grpcroute,
    httproute,
    listenersets,
    tlsroute,
)
from propylon.translate.backends import Answers, Backends, Endpoints, finish_clusters
from propylon.translate.gatewayclass import class_status
from propylon.translate.memo import Memo, attach_context, object_key
from propylon.translate.parameters import Resolver
from propylon.translate.references import Grants
from propylon.translate.rejections import refuse_routes
from propylon.translate.types import Result, Snapshot, StatusUpdate

# what `Backends` reads: while these objects are the same, last pass's answers hold
BACKEND_KINDS = ("Service", "ReferenceGrant", backendtls.KIND, "ConfigMap")


def translate(snapshot: Snapshot, memo: Memo | None = None) -> Result:
    memo = memo if memo is not None else Memo()
    result = _translate(snapshot, memo)
    memo.pass_done()
    return result


def _translate(snapshot: Snapshot, memo: Memo) -> Result:
    now = snapshot.now
    statuses: list[StatusUpdate] = []
    ours: set[str] = set()
    parameters = Resolver(snapshot.of("GatewayParameters"))
    for obj in snapshot.of("GatewayClass"):
        gc = memo.decode(GatewayClass.decode, obj, object_key(obj))
        if gc.controller_name == snapshot.controller_name:
            ours.add(gc.meta.name)
            statuses.append(class_status(obj, gc, now, parameters.of_class(obj)))

    grants = Grants(memo.decode(ReferenceGrant.decode, o, object_key(o))
                    for o in snapshot.of("ReferenceGrant"))
    secrets = {(s.meta.namespace, s.meta.name): s for s in (
        memo.decode(Secret.decode, o, object_key(o)) for o in snapshot.of("Secret"))}
    config_maps = {(m.meta.namespace, m.meta.name): m for m in (
        memo.decode(ConfigMap.decode, o, object_key(o)) for o in snapshot.of("ConfigMap"))}
    states: dict[tuple[str, str], gateways.GatewayState] = {}
    for obj in snapshot.of("Gateway"):
        gw = memo.decode(Gateway.decode, obj, object_key(obj))
        if gw.class_name in ours:
            states[(gw.meta.namespace, gw.meta.name)] = state = gateways.evaluate(
                obj, gw, secrets, grants, now, config_maps)
            state.backend_certificate = backendtls.gateway_client_certificate(obj, secrets, grants)

    def new_backends(known: Answers) -> Backends:
        services = [memo.decode(Service.decode, o, object_key(o)) for o in snapshot.of("Service")]
        tls = backendtls.BackendTLS(snapshot.of(backendtls.KIND), services, config_maps.values())
        return Backends(services, grants, tls, known)

    backends = memo.backends(tuple(snapshot.of(k) for k in BACKEND_KINDS), new_backends)
    endpoints = memo.endpoints(snapshot.of("EndpointSlice"), lambda: Endpoints(
        memo.decode(EndpointSlice.decode, o, object_key(o)) for o in snapshot.of("EndpointSlice")))
    proxies = parameters.judge(states)
    namespace_labels = {n.meta.name: n.meta.label_map
                        for n in (memo.decode(Namespace.decode, o, object_key(o))
                                  for o in snapshot.of("Namespace"))}
    sets = {s.key: s for s in listenersets.evaluate(snapshot.of("ListenerSet"), states,
                                                    namespace_labels, secrets, grants, now)}
    context = memo.context(attach_context(states, sets, namespace_labels,
                                          snapshot.controller_name), now)
    # GRPCRoutes share HTTPRoute's attachment; only decoding and rule translation differ
    route_kinds = (
        (httproute.KIND, HTTPRoute.decode, httproute.translate_rules,
         partial(httproute.attach, kind=httproute.KIND)),
        (grpcroute.KIND, GRPCRoute.decode, grpcroute.translate_rules,
         partial(httproute.attach, kind=grpcroute.KIND)),
        (tlsroute.KIND, TLSRoute.decode, tlsroute.translate_backends, tlsroute.attach))
    for kind, decode, translate_rules, attach in route_kinds:
        for obj in memo.candidates(kind, snapshot.of(kind)):
            rid, entry = memo.entry(kind, obj)
            route = memo.decode_route(entry, decode, obj)
            rules = memo.rules(entry, backends, partial(translate_rules, route, backends))
            parents = memo.attach(rid, entry, obj, rules, context, now, partial(
                attach, obj, route, rules, states, namespace_labels, snapshot.controller_name,
                listener_sets=sets))
            memo.update(rid, entry, parents, partial(_route_update, obj, kind, route.meta,
                                                     parents))
    placed = memo.placements(ls.at for owner in (*states.values(), *sets.values())
                             for ls in owner.listeners)
    statuses.extend(memo.route_statuses())

    # after every route kind has attached, so policies see the Gateways all their routes use
    statuses.extend(backends.tls.statuses(states, placed, snapshot.controller_name, now))
    for s in sets.values():
        gw = s.gateway.gateway
        key = GatewayKey(gw.meta.namespace, gw.meta.name)
        statuses.append(listenersets.status(s, placed, snapshot.infra.get(key), now,
                                            snapshot.rejections.get(key)))
    irs: dict[GatewayKey, GatewayIR] = {}
    infras: dict[GatewayKey, InfraIR] = {}
    for (ns, name), state in states.items():
        key = GatewayKey(ns, name)
        infra = snapshot.infra.get(key)
        statuses.append(gateways.status(state, placed, infra, now, snapshot.rejections.get(key)))
        if not state.accepted:
            continue
        infras[key] = _infra_ir(key, state, proxies[(ns, name)])
        if infra is not None and infra.address is not None:
            irs[key] = gatewayir.build(key, gateways.servable_listeners(state, infra), placed,
                                       infra, infra.bind_address or infra.address, memo.tables)
    irs = {key: finish_clusters(ir, backends, endpoints, backendtls.usable(
        states[(key.namespace, key.name)].backend_certificate), memo.clusters)
        for key, ir in irs.items()}
    if snapshot.rejections:
        statuses = refuse_routes(statuses, snapshot.rejections, irs, {
            kind: snapshot.of(kind) for kind in (httproute.KIND, grpcroute.KIND)},
            snapshot.of("ListenerSet"), now)
    return Result(tuple(statuses), irs, infras)


def _route_update(obj: dict[str, Any], kind: str, meta: ObjectMeta,
                  parents: list[dict[str, Any]]) -> StatusUpdate:
    return StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")), kind,
                        meta.namespace, meta.name, meta.generation, {"parents": parents})


def _infra_ir(key: GatewayKey, state: gateways.GatewayState,
              proxy: ProxyParameters) -> InfraIR:
    gw = state.gateway
    return InfraIR(
        key, gw.class_name,
        tuple(InfraListener(ls.ir_name, ls.spec.port, ls.spec.protocol)
              for ls in gateways.all_listeners(state) if ls.usable),
        tuple(a.value for a in gw.addresses if a.type == "IPAddress" and a.value),
        gw.infra_labels, gw.infra_annotations, proxy)


__all__ = ["translate"]
