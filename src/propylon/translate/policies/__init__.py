"""Envoy Gateway's policies (gateway.envoyproxy.io): attached, applied to the IR, their status.

`apply(inputs, states, irs, controller_name, now)` is one stage of the translation recipe, run
once every Gateway's IR is built. For each policy kind (SecurityPolicy, BackendTrafficPolicy,
ClientTrafficPolicy, EnvoyExtensionPolicy) `attachment.attach` finds what each policy governs
and writes its `status.ancestors`; then every route entry of an IR that a policy governs (found from its name,
`httproute/<ns>/<name>/rule/<i>/match/<j>`, and the Gateway listener serving its virtual host)
is rewritten with the effective policy's settings, kind by kind (`APPLY`), or answers 500
when its SecurityPolicy or EnvoyExtensionPolicy cannot be applied (`failclosed`), and every listener
(port) with its ClientTrafficPolicy's (`client`). Gateways no policy
reaches keep their IR object as it was, so the memoised translation and the xDS translator see
no change.

What a policy does in the IR (the rest of each kind is not implemented yet, and a policy using
it is Accepted False saying so, with no effect):
- BackendTrafficPolicy `retry`, `timeout`, `faultInjection`, `compressor`, `requestBuffer` and
  `responseOverride` (`traffic`).
- BackendTrafficPolicy on the chains of TCP, UDP and TLS listeners: the cluster settings that
  apply to L4 routes, from a policy targeting the TCPRoute, UDPRoute or TLSRoute, its listener
  or its Gateway
  (`streams`, `l4fields`).
- SecurityPolicy `cors`, `jwt` (local JWKS) and `authorization` (`security`, `authn`; the
  clusters of remote JWKS added); `basicAuth` and `apiKeyAuth`
  (`credentialauth`), with the Secrets they name read by `credentials` (`Inputs.secrets`,
  `Inputs.grants`).
- SecurityPolicy `extAuth` (`extauth`: its backend resolved with `Inputs.backends`, the
  service's cluster added to the Gateways whose routes use it).
- ClientTrafficPolicy `timeout.http`, `clientIPDetection`, `headers`, `http1`, `http2`,
  `path`, `tcpKeepalive` and `tls` on the listeners of the ports it governs (`client`);
  `tls.clientValidation` with its CA bundles read by `clientcerts` (`Inputs.config_maps`,
  `Inputs.secrets`), a policy's last good one kept while its CA refs are unusable
  (`_last_good`).
- The rate-limit headers a ClientTrafficPolicy turns off on the local rate limits of its
  ports' routes (`ratelimit`).
- EnvoyExtensionPolicy `lua`: the scripts on the routes it governs (`extension`, its
  ConfigMap scripts read from `Inputs.config_maps`; the other fields are reported as not
  implemented).
- EnvoyPatchPolicy: the JSON patches of the policies accepted on a Gateway, in order, on its IR
  (`patches`), and their Programmed condition from what the xDS translation and Envoy
  reported (`Inputs.rejections`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from propylon.api.core import ConfigMap, Secret
from propylon.api.envoygateway import (
    BACKEND_TRAFFIC_POLICY,
    CLIENT_TRAFFIC_POLICY,
    ENVOY_EXTENSION_POLICY,
    ENVOY_PATCH_POLICY,
    GROUP,
    POLICY_KINDS,
    SECURITY_POLICY,
    Policy,
)
from propylon.ir.model import (
    ClientValidation,
    Cluster,
    GatewayIR,
    GatewayKey,
    Rejections,
    Route,
    RouteConfig,
    VirtualHost,
)
from propylon.translate.backends import Backends, Endpoints
from propylon.translate.gateways import GatewayState
from propylon.translate.hostnames import matches, specificity
from propylon.translate.policies import (
    authn,
    bodies,
    client,
    clientcerts,
    credentials,
    extauth,
    extension,
    failclosed,
    patches,
    ratelimit,
    regexchecks,
    security,
    sharedport,
    streams,
    traffic,
)
from propylon.translate.policies.attachment import (
    OTHER_KINDS,
    ROUTE_KINDS,
    Attachments,
    RouteInfo,
    Scope,
    attach,
)
from propylon.translate.policies.traffic import ClusterChanges
from propylon.translate.references import Grants
from propylon.translate.statuses import PolicyStatus
from propylon.translate.types import Now, StatusUpdate, Store

API_VERSION = f"{GROUP}/v1alpha1"
_ROUTE_ENTRY = re.compile(r"^(httproute|grpcroute)/([^/]+)/([^/]+)/rule/(\d+)/match/\d+$")
_KIND_OF = {"httproute": "HTTPRoute", "grpcroute": "GRPCRoute"}
Key = tuple[str, str]
# what a governing policy does to a route entry: (route, policy, parent, cluster copies it
# needs) -> route
Apply = Callable[[Route, Policy, Policy | None, dict[str, tuple[str, ClusterChanges]]], Route]
APPLY: dict[str, Apply] = {BACKEND_TRAFFIC_POLICY: traffic.governed,
                           SECURITY_POLICY: security.governed,
                           ENVOY_EXTENSION_POLICY: extension.governed}


@dataclass(frozen=True)
class Inputs:
    """The objects this stage reads: policies of each kind, the routes they may target, the
    ConfigMaps and Service ports they may reference."""

    policies: Mapping[str, tuple[dict[str, Any], ...]]
    # HTTPRoute, GRPCRoute; and the kinds of `attachment.OTHER_KINDS`, for their status
    routes: Mapping[str, tuple[dict[str, Any], ...]]
    # response bodies of BackendTrafficPolicies (`bodies`), local JWKS
    config_maps: Mapping[tuple[str, str], ConfigMap] = field(default_factory=dict)
    services: authn.Services | None = None  # Service ports, for remote JWKS
    secrets: Mapping[Key, Secret] = field(default_factory=dict)  # credentials' Secrets
    grants: Grants = field(default_factory=lambda: Grants(()))
    backends: Backends | None = None  # what extAuth backendRefs resolve to
    endpoints: Endpoints | None = None
    # what the xDS translation left out and Envoy refused, per Gateway (EnvoyPatchPolicy status)
    rejections: Mapping[GatewayKey, Rejections] = field(default_factory=dict)
    classes: frozenset[str] = frozenset()  # our GatewayClasses' names (EnvoyPatchPolicy targets)


class _Routes:
    """RouteInfo of the routes, built when first asked for."""

    def __init__(self, objects: Mapping[str, tuple[dict[str, Any], ...]]) -> None:
        self._objects = objects
        self._index: dict[tuple[str, str, str], dict[str, Any]] | None = None
        self._infos: dict[tuple[str, str, str], RouteInfo] = {}

    def get(self, key: tuple[str, str, str]) -> RouteInfo | None:
        if key not in self._infos:
            if self._index is None:
                self._index = {(kind, str((o.get("metadata") or {}).get("namespace") or ""),
                                str((o.get("metadata") or {}).get("name") or "")): o
                               for kind in (*ROUTE_KINDS, *OTHER_KINDS)
                               for o in self._objects.get(kind, ())}
            obj = self._index.get(key)
            if obj is None:
                return None
            self._infos[key] = RouteInfo.of(obj)
        return self._infos[key]

    def in_namespace(self, kind: str, namespace: str) -> Iterable[RouteInfo]:
        for obj in self._objects.get(kind, ()):
            meta = obj.get("metadata") or {}
            if meta.get("namespace") == namespace:
                info = self.get((kind, namespace, str(meta.get("name") or "")))
                if info is not None:
                    yield info


def apply(inputs: Inputs, states: Mapping[Key, GatewayState],
          irs: Mapping[GatewayKey, GatewayIR], controller_name: str, now: Now,
          decode: Callable[[dict[str, Any]], Policy] = Policy.decode,
          store: Store | None = None,
          ) -> tuple[dict[GatewayKey, GatewayIR], list[StatusUpdate]]:
    """The IRs with the policies' effect, and every policy's status (see the module
    docstring). `decode` may be a memoised `Policy.decode`; with a `store` (`Memo.policies`)
    route tables governed as last pass are last pass's objects."""
    if not any(inputs.policies.get(kind) for kind in POLICY_KINDS):
        return dict(irs), []
    routes = _Routes(inputs.routes)
    decode = authn.resolving(decode, inputs.config_maps, inputs.services)
    statuses: list[StatusUpdate] = []
    by_kind: dict[str, Attachments] = {}
    ext_clusters: dict[str, Cluster] = {}
    validations: dict[Key, ClientValidation] = {}  # ClientTrafficPolicy tls.clientValidation
    for kind in POLICY_KINDS:
        objects = inputs.policies.get(kind, ())
        if not objects:
            continue
        previous = {_key(o): [a for a in (o.get("status") or {}).get("ancestors") or ()
                              if isinstance(a, dict)
                              and a.get("controllerName") == controller_name]
                    for o in objects}
        decoded = (regexchecks.checked(decode(o)) for o in objects)
        if kind == BACKEND_TRAFFIC_POLICY:
            decoded = (bodies.resolved(p, inputs.config_maps) for p in decoded)
        if kind == ENVOY_EXTENSION_POLICY:
            decoded = (extension.resolved(p, inputs.config_maps) for p in decoded)
        if kind == CLIENT_TRAFFIC_POLICY:
            decoded = (clientcerts.resolve(p, inputs.config_maps, inputs.secrets, inputs.grants,
                                           validations) for p in decoded)
        if kind == SECURITY_POLICY:
            decoded = (credentials.resolve(p, inputs.secrets, inputs.grants, store)
                       for p in decoded)
        if kind == SECURITY_POLICY and inputs.backends is not None \
                and inputs.endpoints is not None:
            decoded = (extauth.checked(p, inputs.backends, inputs.endpoints, ext_clusters)
                       for p in decoded)
        found = attach(kind, decoded, states, routes, controller_name, now, previous,
                       patches.programmed(inputs.rejections)
                       if kind == ENVOY_PATCH_POLICY else None, inputs.classes,
                       sharedport.conflicts if kind == CLIENT_TRAFFIC_POLICY else None)
        by_kind[kind] = found
        statuses.extend(StatusUpdate(API_VERSION, kind, policy.meta.namespace, policy.meta.name,
                                     policy.meta.generation, PolicyStatus(entries))
                        for policy, entries in found.statuses)
    governing = [(found, APPLY[kind]) for kind, found in by_kind.items()
                 if kind in APPLY and found.attached]
    signature = tuple(frozenset(found.attached.items()) for found, _ in governing)
    ctp = by_kind.get(CLIENT_TRAFFIC_POLICY)
    validations = _last_good(validations, ctp, store)
    patched = patches.by_gateway(by_kind[ENVOY_PATCH_POLICY]) \
        if ENVOY_PATCH_POLICY in by_kind else {}
    out = dict(irs)
    for key, ir in irs.items():
        state = states.get((key.namespace, key.name))
        if state is None:
            continue
        if governing:
            ir = _governed_ir(ir, state, governing, signature, routes, store)
            ir = authn.with_jwks_clusters(ir, store, inputs.services)
        btp = by_kind.get(BACKEND_TRAFFIC_POLICY)
        if btp is not None and btp.attached:
            copies: dict[str, tuple[str, ClusterChanges]] = {}
            ir = _with_copies(streams.governed(ir, state, btp, copies), copies, store)
        if ctp is not None and ctp.attached:
            ir = client.governed(ir, state, ctp, validations)
        if ext_clusters:
            ir = extauth.finish(ir, ext_clusters, store)
        if BACKEND_TRAFFIC_POLICY in by_kind and ctp is not None and ctp.attached:
            ir = ratelimit.quieted(ir, state, ctp)
        if patched.get((key.namespace, key.name)):
            ir = replace(ir, patches=patched[(key.namespace, key.name)])
        out[key] = ir
    return out, statuses


def _last_good(validations: Mapping[Key, ClientValidation], ctp: Attachments | None,
               store: Store | None) -> dict[Key, ClientValidation]:
    """The ClientTrafficPolicies' client certificate validations: this pass's, or for a policy
    whose CA refs are unusable now, the last one it had (`store`), so its listeners keep
    serving their last good configuration."""
    out = dict(validations)
    for policy in {p.key: p for p in ctp.attached.values()}.values() if ctp else ():
        cache_key = ("client-validation", policy.key)
        if policy.key in out and store is not None:
            store.put(cache_key, out[policy.key])
        elif store is not None and store.get(cache_key) is not None:
            out[policy.key] = store.get(cache_key)
    return out


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@dataclass(frozen=True)
class _Governed:
    """A route table as governed last time: from `source` and `owners`, `result`, needing the
    cluster `copies` (name -> (source cluster name, the cluster fields it changes))."""

    source: RouteConfig
    owners: tuple[tuple[str | None, str], ...]
    result: RouteConfig
    copies: Mapping[str, tuple[str, ClusterChanges]]


def _governed_ir(ir: GatewayIR, state: GatewayState, governing: list[tuple[Attachments, Apply]],
                 signature: Hashable, routes: _Routes, store: Store | None) -> GatewayIR:
    """`ir` with the policies' settings on the route entries they govern. A route table
    governed by the same policies (`signature`) from the same table object as last pass is
    last pass's (`store`); cluster copies are made again from this pass's clusters, whose
    endpoints may have changed without the table."""
    key = (ir.key.namespace, ir.key.name)
    listeners = _listeners_by_config(ir.key, state)
    copies: dict[str, tuple[str, ClusterChanges]] = {}
    configs = []
    for config in ir.route_configs:
        owners = tuple(listeners.get(config.name, ()))
        cache_key = ("table", ir.key, config.name, signature)
        found: _Governed | None = store.get(cache_key) if store is not None else None
        if found is None or found.source is not config or found.owners != owners:
            made: dict[str, tuple[str, ClusterChanges]] = {}
            vhosts = tuple(_cached_vhost(vh, owners, key, governing, signature, routes, made,
                                         store) for vh in config.virtual_hosts)
            result = config if all(a is b for a, b in zip(vhosts, config.virtual_hosts,
                                                          strict=True)) \
                else RouteConfig(config.name, vhosts)
            found = _Governed(config, owners, result, made)
        if store is not None:
            store.put(cache_key, found)
        configs.append(found.result)
        copies.update(found.copies)
    if not all(a is b for a, b in zip(configs, ir.route_configs, strict=True)):
        ir = replace(ir, route_configs=tuple(configs))
    return _with_copies(ir, copies, store)


def _with_copies(ir: GatewayIR, copies: Mapping[str, tuple[str, ClusterChanges]],
                 store: Store | None) -> GatewayIR:
    """`ir` with the cluster `copies` (name -> (source cluster name, changes)) it lacks."""
    clusters = {c.name: c for c in ir.clusters}
    for name, (source_name, changes) in sorted(copies.items()):
        source = clusters.get(source_name)
        if source is not None and name not in clusters:
            clusters[name] = _copy(source, name, changes, store)
    if len(clusters) == len(ir.clusters):
        return ir
    return replace(ir, clusters=tuple(sorted(clusters.values(), key=lambda c: c.name)))


def _copy(source: Cluster, name: str, changes: ClusterChanges, store: Store | None) -> Cluster:
    """A copy of `source` named `name` with `changes`: last pass's while `source` is."""
    cache_key = ("copy", name, changes)
    found = store.get(cache_key) if store is not None else None
    if found is None or found[0] is not source:
        found = (source, replace(source, name=name, **dict(changes)))
    if store is not None:
        store.put(cache_key, found)
    return found[1]


def _listeners_by_config(key: GatewayKey, state: GatewayState,
                         ) -> dict[str, list[tuple[str | None, str]]]:
    """Route table name -> (hostname, name) of the Gateway's own listeners it serves (as
    `gatewayir` names tables: one per HTTP port, one per HTTPS listener)."""
    out: dict[str, list[tuple[str | None, str]]] = {}
    for ls in state.listeners:
        name = f"{key}/{ls.spec.port}" if ls.spec.protocol == "HTTP" else f"{key}/{ls.ir_name}"
        out.setdefault(name, []).append((ls.spec.hostname, ls.spec.name))
    return out


def _owner(vhost: VirtualHost, owners: list[tuple[str | None, str]]) -> str | None:
    """The Gateway listener serving a virtual host: the most specific one whose hostname
    covers its domain (None: a ListenerSet's listener, or none)."""
    domain = vhost.domains[0] if vhost.domains else "*"
    fitting = [(hostname, name) for hostname, name in owners
               if hostname is None or matches(hostname, domain)]
    best = min(fitting, key=lambda item: specificity(item[0]), default=None)
    return None if best is None else best[1]


def _cached_vhost(vhost: VirtualHost, owners: tuple[tuple[str | None, str], ...],
                  gateway: Key, governing: list[tuple[Attachments, Apply]],
                  signature: Hashable, routes: _Routes,
                  copies: dict[str, tuple[str, ClusterChanges]], store: Store | None,
                  ) -> VirtualHost:
    """`_governed_vhost` for the listener of `owners` serving it, or last pass's result for
    the same virtual host object, listeners and policies (a table rebuilt for one changed
    host keeps the others)."""
    cache_key = ("vhost", gateway, owners, vhost.name, signature)
    found = store.get(cache_key) if store is not None else None
    if found is None or found[0] is not vhost:
        made: dict[str, tuple[str, ClusterChanges]] = {}
        found = (vhost, _governed_vhost(vhost, _owner(vhost, list(owners)), gateway,
                                        governing, routes, made), made)
    if store is not None:
        store.put(cache_key, found)
    copies.update(found[2])
    return found[1]


_CLOSED: Literal["closed"] = "closed"  # a route entry that answers `failclosed.ANSWER`


def _usable(attachments: Attachments, found: tuple[Policy, Policy | None] | None,
            ) -> tuple[Policy, Policy | None] | Literal["closed"] | None:
    """What applies to a route entry of the policies governing it (`found`): None when
    nothing does (none govern, or their problems make them apply nothing), `_CLOSED` when
    they fail closed (`failclosed`)."""
    if found is None or not (found[0].problems or (found[1] is not None and found[1].problems)):
        return found
    if attachments.kind not in failclosed.KINDS:
        return None
    return failclosed.replacement(*found) or _CLOSED


def _governed_vhost(vhost: VirtualHost, listener: str | None, gateway: Key,
                    governing: list[tuple[Attachments, Apply]], routes: _Routes,
                    copies: dict[str, tuple[str, ClusterChanges]]) -> VirtualHost:
    changed = []
    for route in vhost.routes:
        found = _ROUTE_ENTRY.match(route.name)
        if found is None:
            changed.append(route)
            continue
        prefix, ns, name, index = found.groups()
        kind = _KIND_OF[prefix]
        info = routes.get((kind, ns, name))
        rules = info.rules if info is not None else ()
        rule = rules[int(index)] if int(index) < len(rules) else None
        applied = [(apply_to, _usable(attachments, attachments.governing(
            gateway, listener, Scope(kind, ns, name), rule)))
            for attachments, apply_to in governing]
        if any(policies == _CLOSED for _, policies in applied):
            changed.append(failclosed.closed(route))
            continue
        for apply_to, policies in applied:
            if isinstance(policies, tuple):
                route = apply_to(route, *policies, copies)
        changed.append(route)
    if all(a is b for a, b in zip(changed, vhost.routes, strict=True)):
        return vhost
    return replace(vhost, routes=tuple(changed))
