"""SecurityPolicy `extAuth`: the authorisation service's cluster, the routes and listeners
that use it.

- `checked(policy, backends, endpoints, clusters)`: a SecurityPolicy whose `extAuth` backend
  does not resolve (no such Service or port, another namespace without a ReferenceGrant from
  SecurityPolicies) gets that as a problem, so it is Accepted False naming the backendRef and
  applies nothing; one that resolves adds the service's cluster to `clusters`, named
  `extauth/<namespace>/<service>/<port>` (`/grpc` appended for gRPC, which is h2c), with the
  Service's ready endpoints (and its BackendTLSPolicy's TLS); for an Envoy Gateway Backend,
  `extauth/backend/<namespace>/<name>` with the Backend's endpoints (`backends`).
- `route_ext_auth(settings)`: the IR `ExtAuth` a governed route entry carries.
- `finish(ir, clusters, store)`: the Gateway's IR with the clusters its routes' ext auths use
  (the xDS layer gives each connection manager one filter per service its routes use).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import SECURITY_POLICY, Policy, security
from propylon.api.extauth import ExtAuthSettings, ServiceRef
from propylon.ir.model import Cluster, ExtAuth, GatewayIR, RouteConfig, VirtualHost
from propylon.translate.backends import Backends, Endpoints, Refused
from propylon.translate.types import Store

PREFIX = "extauth"


def cluster_name(namespace: str, ref: ServiceRef, grpc: bool) -> str:
    name = f"{PREFIX}/{ref.namespace or namespace}/{ref.name}/{ref.port}" if ref.port \
        else f"{PREFIX}/backend/{ref.namespace or namespace}/{ref.name}"
    return f"{name}/grpc" if grpc else name


@lru_cache(maxsize=4096)
def _settings(policy: Policy) -> ExtAuthSettings | None:
    return security(policy.spec_value())[0].ext_auth if '"extAuth"' in policy.spec else None


def checked(policy: Policy, backends: Backends, endpoints: Endpoints,
            clusters: dict[str, Cluster]) -> Policy:
    """`policy` (see the module docstring); the same object unless its backend is refused."""
    settings = _settings(policy)
    if settings is None or policy.problems:
        return policy
    ref, namespace = settings.backend, policy.meta.namespace
    answer = backends.resolve(SECURITY_POLICY, namespace, ref.group, ref.kind, ref.name,
                              ref.namespace, ref.port, "h2c" if settings.grpc else None)
    if isinstance(answer, Refused):
        field = "spec.extAuth.grpc" if settings.grpc else "spec.extAuth.http"
        return replace(policy, problems=(f"{field} backendRef: {answer.message}",))
    resolved = answer.cluster
    name = cluster_name(namespace, ref, settings.grpc)
    clusters[name] = replace(resolved, name=name,
                             endpoints=endpoints.of(backends.sources.get(resolved.name)))
    return policy


def route_ext_auth(policy: Policy, settings: ExtAuthSettings) -> ExtAuth:
    """The IR ext auth of a route governed by `policy` with these (merged) settings."""
    ref, namespace = settings.backend, policy.meta.namespace
    return ExtAuth(
        name=f"securitypolicy/{namespace}/{policy.meta.name}",
        cluster=cluster_name(namespace, ref, settings.grpc),
        authority=f"{ref.name}.{ref.namespace or namespace}"
                  + (f":{ref.port}" if ref.port else ""),
        grpc=settings.grpc, path_prefix=settings.path, path_override=settings.path_override,
        headers_to_backend=settings.headers_to_backend,
        headers_to_ext_auth=settings.headers_to_ext_auth, fail_open=settings.fail_open,
        body_max_bytes=settings.body_max_bytes, recompute_route=settings.recompute_route,
        timeout_ms=settings.timeout_ms, status_on_error=settings.status_on_error,
        context_extensions=settings.context_extensions)


def _ext_auths(config: RouteConfig, store: Store | None) -> dict[str, ExtAuth]:
    """The ext auths of a route table's routes by name: last pass's for the same table, and
    for each virtual host that is the same object (a table rebuilt for one host)."""
    key = ("extauth", config.name)
    found = store.get(key) if store is not None else None
    if found is None or found[0] is not config:
        out: dict[str, ExtAuth] = {}
        for vh in config.virtual_hosts:
            out.update(_vhost_ext_auths(config.name, vh, store))
        found = (config, out)
    if store is not None:
        store.put(key, found)
    return found[1]


def _vhost_ext_auths(config: str, vh: VirtualHost, store: Store | None) -> dict[str, ExtAuth]:
    key = ("extauth", config, vh.name)
    found = store.get(key) if store is not None else None
    if found is None or found[0] is not vh:
        found = (vh, {r.ext_auth.name: r.ext_auth for r in vh.routes if r.ext_auth is not None})
    if store is not None:
        store.put(key, found)
    return found[1]


def finish(ir: GatewayIR, clusters: Mapping[str, Cluster], store: Store | None) -> GatewayIR:
    """`ir` with the clusters its routes' ext auths need; with `store`, a route table unchanged
    since last pass is not read again, and the same IR needing equal clusters gives last pass's
    result."""
    by_config = {config.name: _ext_auths(config, store) for config in ir.route_configs}
    used = {e.cluster for found in by_config.values() for e in found.values()}
    if not used:
        return ir
    wanted = {name: clusters[name] for name in sorted(used) if name in clusters}
    key = ("extauth-ir", ir.key)
    found = store.get(key) if store is not None else None
    # an IR rebuilt from the same parts compares equal at the cost of identity checks
    if found is None or (found[0] is not ir and found[0] != ir) or found[1] != wanted:
        own = {c.name: c for c in ir.clusters}
        own.update(wanted)
        found = (ir, wanted, replace(
            ir, clusters=tuple(sorted(own.values(), key=lambda c: c.name))))
    if store is not None:
        store.put(key, found)
    return found[2]
