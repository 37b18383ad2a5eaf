"""A SecurityPolicy's `jwt` and `authorization` on the IR, and the filters they need.

`resolving(decode, config_maps)` decodes SecurityPolicies with each JWKS `valueRef` replaced by
the value of the ConfigMap it names (its key `jwks`, else its first, as Envoy Gateway reads
it); a ConfigMap not found leaves the reference, which makes the policy Accepted False, and so
does a remote JWKS whose Service port cannot be resolved (`services`, from the translator's
`Backends` and `Endpoints`: `service_clusters`).

`governed(route, policy, parent, found)` returns the route entry with `found.jwt` as its JWT
requirement (each provider named `<policy namespace>/<policy name>/<provider>`, with the
parent's name too when the policy is merged over one, so two policies never share a name) and
`found.authorization` as its rules. `with_filters(ir, store)` marks each listener with what
its routes need in the HTTP filter chain (the JWT requirements, whether any route has rules;
the basic auth and API key filters of `credentialauth` too),
so a chain carries the JWT and RBAC filters only when some route of its tables uses them (last
pass's answer while the listeners and route tables are the same objects), and adds the
clusters of the Services remote JWKS are fetched from, with their endpoints of this pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from propylon.api.core import ConfigMap
from propylon.api.egauth import (
    AuthzSettings,
    JwtProviderSettings,
    JwtSettings,
    RemoteJwks,
    inline_jwks,
)
from propylon.api.envoygateway import SECURITY_POLICY, Policy, security
from propylon.ir.model import (
    AuthFilters,
    Authorization,
    AuthzRule,
    Cluster,
    GatewayIR,
    Jwt,
    JwtProvider,
    Listener,
    Route,
    RouteConfig,
)
from propylon.translate.backends import Backends, Endpoints, Refused
from propylon.translate.backendtls import cluster_name
from propylon.translate.types import Store

# the cluster of a Service port (namespace, name, port) with its endpoints, or why not
Services = Callable[[str, str, int], Cluster | str]


def _jwks(config_map: ConfigMap | None) -> str | None:
    if config_map is None or not config_map.data:
        return None
    found = config_map.value("jwks")
    return found if found is not None else config_map.data[0][1]


def service_clusters(backends: Backends, endpoints: Endpoints) -> Services:
    """The cluster of a Service port with its endpoints, or why there is none."""
    def resolve(namespace: str, name: str, port: int) -> Cluster | str:
        found = backends.resolve(SECURITY_POLICY, namespace, "", "Service", name, namespace,
                                 port)
        if isinstance(found, Refused):
            return found.message
        source = backends.sources.get(found.cluster.name)
        return replace(found.cluster, endpoints=endpoints.of(source))
    return resolve


def resolving(decode: Callable[[dict[str, Any]], Policy],
              config_maps: Mapping[tuple[str, str], ConfigMap],
              services: Services | None) -> Callable[[dict[str, Any]], Policy]:
    """`decode`, with JWKS ConfigMap references resolved and remote JWKS Services checked
    (see the module docstring)."""
    def decoded(obj: dict[str, Any]) -> Policy:
        policy = decode(obj)
        if policy.kind != SECURITY_POLICY or '"jwt"' not in policy.spec:
            return policy
        namespace = policy.meta.namespace
        if '"ValueRef"' in policy.spec:
            spec = inline_jwks(policy.spec_value(),
                               lambda name: _jwks(config_maps.get((namespace, name))))
            policy = Policy.decode({**obj, "spec": spec})
        found = security(policy.spec_value())[0].jwt
        problems = []
        for i, p in enumerate(found.providers if found is not None else ()):
            if p.remote is None:
                continue
            cluster = None if services is None else services(
                *_remote_service(p.remote, namespace))
            if not isinstance(cluster, Cluster):
                problems.append(f"spec.jwt.providers[{i}].remoteJWKS: the JWKS cannot be "
                                f"fetched: {cluster or 'no Service is known'}")
        return replace(policy, problems=policy.problems + tuple(problems)) if problems \
            else policy
    return decoded


def _remote_service(remote: RemoteJwks, namespace: str) -> tuple[str, str, int]:
    return (remote.namespace or namespace, remote.service, remote.port)


def _jwt(found: JwtSettings, prefix: str, namespace: str) -> Jwt:
    def provider(p: JwtProviderSettings) -> JwtProvider:
        out = JwtProvider(f"{prefix}/{p.name}", p.jwks, p.issuer, p.audiences,
                          p.claim_to_headers, p.recompute_route, p.from_headers, p.from_cookies,
                          p.from_params)
        if p.remote is None:
            return out
        return replace(out, remote_uri=p.remote.uri,
                       remote_cluster=cluster_name(*_remote_service(p.remote, namespace)),
                       cache_duration_ms=p.remote.cache_duration_ms)

    return Jwt(tuple(provider(p) for p in found.providers), found.optional)


def _authorization(found: AuthzSettings) -> Authorization:
    return Authorization(tuple(AuthzRule(r.allow, r.client_cidrs, r.headers, r.methods)
                               for r in found.rules), found.default_allow)


def governed(route: Route, policy: Policy, parent: Policy | None,
             jwt: JwtSettings | None, authorization: AuthzSettings | None) -> Route:
    """`route` with the policy's JWT requirement and authorization rules (see the module
    docstring)."""
    prefix = f"{policy.meta.namespace}/{policy.meta.name}"
    if parent is not None:
        prefix += f"+{parent.meta.namespace}/{parent.meta.name}"
    if jwt is not None and route.jwt is None:
        route = replace(route, jwt=_jwt(jwt, prefix, policy.meta.namespace))
    if authorization is not None and route.authorization is None:
        route = replace(route, authorization=_authorization(authorization))
    return route


def _needs(configs: list[RouteConfig]) -> AuthFilters | None:
    jwts: dict[str, Jwt] = {}
    rbac = api_key = False
    basic: set[str] = set()  # forwarded-username headers ("" for none)
    for config in configs:
        for vhost in config.virtual_hosts:
            for route in vhost.routes:
                if route.jwt is not None:
                    jwts.setdefault(route.jwt.name, route.jwt)
                rbac = rbac or route.authorization is not None
                if route.basic_auth is not None:
                    basic.add(route.basic_auth.forward_username_header or "")
                api_key = api_key or route.api_key_auth is not None
    if not jwts and not rbac and not basic and not api_key:
        return None
    return AuthFilters(tuple(jwts[name] for name in sorted(jwts)), rbac, tuple(sorted(basic)),
                       api_key)


def _listener(li: Listener, tables: dict[str, RouteConfig]) -> Listener:
    names = [li.route_config] if li.route_config else [c.route_config for c in li.tls_chains]
    needs = _needs([tables[n] for n in names if n in tables])
    return li if needs == li.auth_filters else replace(li, auth_filters=needs)


def with_filters(ir: GatewayIR, store: Store | None, services: Services | None) -> GatewayIR:
    """`ir` with each listener marked with the filters its routes need, and the clusters of
    the remote JWKS they fetch (see the module docstring)."""
    key = ("authn-filters", ir.key)
    found = store.get(key) if store is not None else None
    if found is None or found[0] is not ir.listeners or found[1] is not ir.route_configs:
        tables = {c.name: c for c in ir.route_configs}
        listeners = tuple(_listener(li, tables) for li in ir.listeners)
        found = (ir.listeners, ir.route_configs, listeners)
    if store is not None:
        store.put(key, found)
    listeners = found[2]
    clusters = {c.name: c for c in ir.clusters}
    for provider in (p for li in listeners if li.auth_filters is not None
                     for jwt in li.auth_filters.jwt for p in jwt.providers):
        name = provider.remote_cluster
        if name is None or name in clusters or services is None:
            continue
        namespace, service, port = name.rsplit("/", 2)
        cluster = services(namespace, service, int(port))
        if isinstance(cluster, Cluster):
            clusters[name] = cluster
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)) \
            and len(clusters) == len(ir.clusters):
        return ir
    return replace(ir, listeners=listeners,
                   clusters=tuple(sorted(clusters.values(), key=lambda c: c.name)))
