"""`translate(snapshot) -> Result`: the whole graph, rebuilt from scratch on every call.

Order of work: GatewayClasses of our controller (status, and the set of accepted class names);
Gateways of those classes (listeners evaluated; rejected when their own or their class's
parametersRef is invalid, see `parameters`); ListenerSets of those Gateways (accepted ones merged
into their Gateway); HTTPRoutes (rules translated once, then attached
to listeners, parent status); GRPCRoutes (the same, through HTTPRoute's attachment); TLSRoutes (the same, to TLS listeners); then the ListenerSets'
status; then, per Gateway, its status (now that attachedRoutes and the
infrastructure state are known), its InfraIR when accepted, and its IR when it has an address.
Objects that are not ours get no status. Nothing here raises on bad input: every problem becomes
a condition. BackendTLSPolicies are resolved before routes (the routes' clusters carry their
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
from propylon.translate.backends import Backends
from propylon.translate.gatewayclass import class_status
from propylon.translate.memo import Listeners, Memo, attach_context, object_key, spec_key
from propylon.translate.parameters import Resolver
from propylon.translate.references import Grants
from propylon.translate.types import Result, Snapshot, StatusUpdate


def translate(snapshot: Snapshot, memo: Memo | None = None) -> Result:
    result, backends = _translate(snapshot, memo if memo is not None else Memo())
    if memo is not None:
        memo.pass_done(backends.answers)
    return result


def _translate(snapshot: Snapshot, memo: Memo) -> tuple[Result, Backends]:
    now = snapshot.now
    statuses: list[StatusUpdate] = []
    ours: set[str] = set()
    parameters = Resolver(snapshot.of("GatewayParameters"))
    for obj in snapshot.of("GatewayClass"):
        gc = GatewayClass.decode(obj)
        if gc.controller_name == snapshot.controller_name:
            ours.add(gc.meta.name)
            statuses.append(class_status(obj, gc, now, parameters.of_class(obj)))

    grants = Grants(ReferenceGrant.decode(o) for o in snapshot.of("ReferenceGrant"))
    secrets = {(s.meta.namespace, s.meta.name): s for s in map(Secret.decode, snapshot.of("Secret"))}
    config_maps = {(m.meta.namespace, m.meta.name): m
                   for m in map(ConfigMap.decode, snapshot.of("ConfigMap"))}
    states: dict[tuple[str, str], gateways.GatewayState] = {}
    for obj in snapshot.of("Gateway"):
        gw = Gateway.decode(obj)
        if gw.class_name in ours:
            states[(gw.meta.namespace, gw.meta.name)] = state = gateways.evaluate(
                obj, gw, secrets, grants, now, config_maps)
            state.backend_certificate = backendtls.gateway_client_certificate(obj, secrets, grants)

    services = [memo.decode(Service.decode, o, object_key(o)) for o in snapshot.of("Service")]
    tls = backendtls.BackendTLS(snapshot.of(backendtls.KIND), services, config_maps.values())
    backends = Backends(services, [memo.decode(EndpointSlice.decode, o, object_key(o))
                                   for o in snapshot.of("EndpointSlice")], grants, tls,
                        memo.answers)
    proxies = parameters.judge(states)
    namespace_labels = {n.meta.name: n.meta.label_map
                        for n in map(Namespace.decode, snapshot.of("Namespace"))}
    sets = {s.key: s for s in listenersets.evaluate(snapshot.of("ListenerSet"), states,
                                                    namespace_labels, secrets, grants, now)}
    context = memo.context(attach_context(states, sets, namespace_labels,
                                          snapshot.controller_name))
    listeners = Listeners(states, sets)
    # GRPCRoutes share HTTPRoute's attachment; only decoding and rule translation differ
    http_kinds = ((httproute.KIND, HTTPRoute.decode, httproute.translate_rules),
                  (grpcroute.KIND, GRPCRoute.decode, grpcroute.translate_rules))
    for kind, decode, translate_rules in http_kinds:
        for obj in snapshot.of(kind):
            key, spec = object_key(obj), spec_key(obj)
            route = memo.decode(decode, obj, spec)
            rules = memo.rules(spec, backends, partial(translate_rules, route, backends))
            parents = memo.attach(key, rules, context, now, listeners, partial(
                httproute.attach, obj, route, rules, states, namespace_labels,
                snapshot.controller_name, listener_sets=sets, kind=kind))
            if parents:
                statuses.append(memo.update(key, parents, partial(
                    _route_update, obj, kind, route.meta, parents)))

    for obj in snapshot.of("TLSRoute"):
        key, spec = object_key(obj), spec_key(obj)
        tls_route = memo.decode(TLSRoute.decode, obj, spec)
        rules_tls = memo.rules(spec, backends,
                               partial(tlsroute.translate_backends, tls_route, backends))
        parents = memo.attach(key, rules_tls, context, now, listeners, partial(
            tlsroute.attach, obj, tls_route, rules_tls, states, namespace_labels,
            snapshot.controller_name, listener_sets=sets))
        if parents:
            statuses.append(memo.update(key, parents, partial(
                _route_update, obj, tlsroute.KIND, tls_route.meta, parents)))

    # after every route kind has attached, so policies see the Gateways all their routes use
    statuses.extend(tls.statuses(states, snapshot.controller_name, now))
    for s in sets.values():
        gw = s.gateway.gateway
        statuses.append(listenersets.status(s, snapshot.infra.get(
            GatewayKey(gw.meta.namespace, gw.meta.name)), now))
    irs: dict[GatewayKey, GatewayIR] = {}
    infras: dict[GatewayKey, InfraIR] = {}
    for (ns, name), state in states.items():
        key = GatewayKey(ns, name)
        infra = snapshot.infra.get(key)
        statuses.append(gateways.status(state, infra, now))
        if not state.accepted:
            continue
        infras[key] = _infra_ir(key, state, proxies[(ns, name)])
        if infra is not None and infra.address is not None:
            irs[key] = gatewayir.build(key, gateways.servable_listeners(state, infra), infra,
                                       infra.bind_address or infra.address,
                                       backendtls.usable(state.backend_certificate),
                                       memo.vhosts)
    return Result(tuple(statuses), irs, infras), backends


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
