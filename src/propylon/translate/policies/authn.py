"""A SecurityPolicy's `jwt` and `authorization` on the IR, and the clusters remote JWKS need.

`resolving(decode, config_maps)` decodes SecurityPolicies with each JWKS `valueRef` replaced by
the value of the ConfigMap it names (its key `jwks`, else its first, as Envoy Gateway reads
it); a ConfigMap not found leaves the reference, which makes the policy Accepted False, and so
does a remote JWKS whose Service port cannot be resolved (`services`, from the translator's
`Backends` and `Endpoints`: `service_clusters`), or is fetched over https:// with no
BackendTLSPolicy saying how to verify it. A remote JWKS host that is not a Service is a DNS
name: its cluster (`dns:<scheme>://<host>:<port>`) has the proxy resolve it, over TLS for
https:// (SNI and the certificate's name the host, verified by the system's trusted roots).

`governed(route, policy, parent, found)` returns the route entry with `found.jwt` as its JWT
requirement (each provider named `<policy namespace>/<policy name>/<provider>`, with the
parent's name too when the policy is merged over one, so two policies never share a name) and
`found.authorization` as its rules (a rule's JWT principal names its provider the same way:
the claims are read from the payload that provider's verification left; the xDS layer puts
the JWT and RBAC filters in the chains whose routes use them).
`with_jwks_clusters(ir, store, services)` adds the clusters remote JWKS are fetched from: a
Service's with its endpoints of this pass, or a DNS name's (the clusters' names are last
pass's while the route tables are the same objects).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from propylon.api.core import ConfigMap
from propylon.api.egauth import AuthzRule as AuthzRuleSettings
from propylon.api.egauth import (
    AuthzSettings,
    JwtProviderSettings,
    JwtSettings,
    RemoteJwks,
    inline_jwks,
)
from propylon.api.envoygateway import SECURITY_POLICY, Policy, security
from propylon.ir.model import (
    Authorization,
    AuthzRule,
    Cluster,
    Endpoint,
    GatewayIR,
    Jwt,
    JwtClaimMatch,
    JwtPrincipal,
    JwtProvider,
    Route,
    RouteConfig,
    SubjectAltName,
    UpstreamTLS,
)
from propylon.translate.backends import Backends, Endpoints, Refused
from propylon.translate.backendtls import cluster_name
from propylon.translate.types import Store

# the cluster of a Service port (namespace, name, port) with its endpoints, or why not
Services = Callable[[str, str, int], Cluster | str]
DNS_CLUSTER = "dns:"  # a cluster named "dns:<scheme>://<host>:<port>" resolves the host


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
            if p.remote is None or p.remote.dns_host is not None:
                continue
            service = _remote_service(p.remote, namespace)
            cluster = None if services is None else services(*service)
            if not isinstance(cluster, Cluster):
                problems.append(f"spec.jwt.providers[{i}].remoteJWKS: the JWKS cannot be "
                                f"fetched: {cluster or 'no Service is known'}")
            elif p.remote.tls and cluster.tls is None:
                problems.append(f"spec.jwt.providers[{i}].remoteJWKS.uri: https:// to Service "
                                f"{service[0]}/{service[1]} needs a BackendTLSPolicy targeting "
                                "it (the CA and hostname verifying it): create one, or fetch "
                                "over http://")
        return replace(policy, problems=policy.problems + tuple(problems)) if problems \
            else policy
    return decoded


def _remote_service(remote: RemoteJwks, namespace: str) -> tuple[str, str, int]:
    return (remote.namespace or namespace, remote.service, remote.port)


def _dns_cluster_name(remote: RemoteJwks) -> str:
    scheme = "https" if remote.tls else "http"
    host = remote.dns_host or ""
    return f"{DNS_CLUSTER}{scheme}://{f'[{host}]' if ':' in host else host}:{remote.port}"


def _dns_cluster(name: str) -> Cluster:
    """The cluster `_dns_cluster_name` names: the host resolved by the proxy, reached over
    TLS (SNI and certificate name the host, verified by the system's trusted roots) for
    https."""
    parts = urlsplit(name.removeprefix(DNS_CLUSTER))
    host, port = parts.hostname or "", parts.port or 0
    tls = UpstreamTLS(host, None, (SubjectAltName("DNS", host),)) \
        if parts.scheme == "https" else None
    return Cluster(name, (Endpoint(host, port),), tls=tls, resolver="dns")


def _jwt(found: JwtSettings, prefix: str, namespace: str) -> Jwt:
    def provider(p: JwtProviderSettings) -> JwtProvider:
        out = JwtProvider(f"{prefix}/{p.name}", p.jwks, p.issuer, p.audiences,
                          p.claim_to_headers, p.recompute_route, p.from_headers, p.from_cookies,
                          p.from_params)
        if p.remote is None:
            return out
        return replace(out, remote_uri=p.remote.uri,
                       remote_cluster=cluster_name(*_remote_service(p.remote, namespace))
                       if p.remote.dns_host is None else _dns_cluster_name(p.remote),
                       cache_duration_ms=p.remote.cache_duration_ms,
                       failed_refetch_ms=p.remote.failed_refetch_ms)

    return Jwt(tuple(provider(p) for p in found.providers), found.optional)


def _authorization(found: AuthzSettings, prefix: str) -> Authorization:
    def rule(r: AuthzRuleSettings) -> AuthzRule:
        principal = None if r.jwt is None else JwtPrincipal(
            f"{prefix}/{r.jwt.provider}",
            tuple(JwtClaimMatch(tuple(c.name.split(".")), c.values, c.string_array)
                  for c in r.jwt.claims),
            r.jwt.scopes)
        return AuthzRule(r.allow, r.client_cidrs, r.headers, r.methods, principal)

    return Authorization(tuple(rule(r) for r in found.rules), found.default_allow)


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
        route = replace(route, authorization=_authorization(authorization, prefix))
    return route


def _jwks_clusters(configs: tuple[RouteConfig, ...]) -> frozenset[str]:
    return frozenset(p.remote_cluster for config in configs for vhost in config.virtual_hosts
                     for route in vhost.routes if route.jwt is not None
                     for p in route.jwt.providers if p.remote_cluster is not None)


def with_jwks_clusters(ir: GatewayIR, store: Store | None,
                       services: Services | None) -> GatewayIR:
    """`ir` with the clusters of the remote JWKS its routes fetch (see the module
    docstring)."""
    key = ("authn-jwks", ir.key)
    found = store.get(key) if store is not None else None
    if found is None or found[0] is not ir.route_configs:
        found = (ir.route_configs, _jwks_clusters(ir.route_configs))
    if store is not None:
        store.put(key, found)
    clusters = {c.name: c for c in ir.clusters}
    for name in sorted(found[1]):
        if name.startswith(DNS_CLUSTER) and name not in clusters:
            clusters[name] = _dns_cluster(name)
        if name in clusters or services is None:
            continue
        namespace, service, port = name.rsplit("/", 2)
        cluster = services(namespace, service, int(port))
        if isinstance(cluster, Cluster):
            clusters[name] = cluster
    if len(clusters) == len(ir.clusters):
        return ir
    return replace(ir, clusters=tuple(sorted(clusters.values(), key=lambda c: c.name)))
