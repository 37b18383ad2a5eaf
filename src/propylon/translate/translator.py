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
"""

from __future__ import annotations

from propylon.api.core import ConfigMap, EndpointSlice, Namespace, Secret, Service
from propylon.api.gateway import Gateway, GatewayClass, ReferenceGrant
from propylon.api.grpcroute import GRPCRoute
from propylon.api.httproute import HTTPRoute
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
from propylon.translate.parameters import Resolver
from propylon.translate.references import Grants
from propylon.translate.types import Result, Snapshot, StatusUpdate


def translate(snapshot: Snapshot) -> Result:
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

    tls = backendtls.BackendTLS.of(snapshot)
    backends = Backends(map(Service.decode, snapshot.of("Service")),
                        map(EndpointSlice.decode, snapshot.of("EndpointSlice")), grants, tls)
    proxies = parameters.judge(states)
    namespace_labels = {n.meta.name: n.meta.label_map
                        for n in map(Namespace.decode, snapshot.of("Namespace"))}
    sets = {s.key: s for s in listenersets.evaluate(snapshot.of("ListenerSet"), states,
                                                    namespace_labels, secrets, grants, now)}
    for obj in snapshot.of("HTTPRoute"):
        route = HTTPRoute.decode(obj)
        translated = httproute.translate_rules(route, backends)
        parents = httproute.attach(obj, route, translated, states, namespace_labels,
                                   snapshot.controller_name, now, sets)
        if parents:
            statuses.append(StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")),
                                         "HTTPRoute", route.meta.namespace, route.meta.name,
                                         route.meta.generation, {"parents": parents}))
    for obj in snapshot.of("GRPCRoute"):
        grpc = GRPCRoute.decode(obj)
        parents = httproute.attach(obj, grpc, grpcroute.translate_rules(grpc, backends), states,
                                   namespace_labels, snapshot.controller_name, now, sets,
                                   grpcroute.KIND)
        if parents:
            statuses.append(StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")),
                                         grpcroute.KIND, grpc.meta.namespace, grpc.meta.name,
                                         grpc.meta.generation, {"parents": parents}))

    for obj in snapshot.of("TLSRoute"):
        tls_route = TLSRoute.decode(obj)
        parents = tlsroute.attach(obj, tls_route, tlsroute.translate_backends(tls_route, backends),
                                  states, namespace_labels, snapshot.controller_name, now,
                                  sets)
        if parents:
            statuses.append(StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")),
                                         "TLSRoute", tls_route.meta.namespace, tls_route.meta.name,
                                         tls_route.meta.generation, {"parents": parents}))

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
                                       backendtls.usable(state.backend_certificate))
    return Result(tuple(statuses), irs, infras)


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
