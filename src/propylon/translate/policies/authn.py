"""A SecurityPolicy's `jwt` and `authorization` on the IR, and the filters they need.

`resolving(decode, config_maps)` decodes SecurityPolicies with each JWKS `valueRef` replaced by
the value of the ConfigMap it names (its key `jwks`, else its first, as Envoy Gateway reads
it); a ConfigMap not found leaves the reference, which makes the policy Accepted False.

`governed(route, policy, parent, found)` returns the route entry with `found.jwt` as its JWT
requirement (each provider named `<policy namespace>/<policy name>/<provider>`, with the
parent's name too when the policy is merged over one, so two policies never share a name) and
`found.authorization` as its rules. `with_filters(ir, store)` marks each listener with what
its routes need in the HTTP filter chain (the JWT requirements, whether any route has rules),
so a chain carries the JWT and RBAC filters only when some route of its tables uses them; it
is last pass's answer while the listeners and route tables are the same objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from propylon.api.core import ConfigMap
from propylon.api.egauth import AuthzSettings, JwtSettings, inline_jwks
from propylon.api.envoygateway import SECURITY_POLICY, Policy
from propylon.ir.model import (
    Authorization,
    AuthzRule,
    GatewayIR,
    Jwt,
    JwtProvider,
    Listener,
    Route,
    RouteConfig,
)
from propylon.translate.types import Store


def _jwks(config_map: ConfigMap | None) -> str | None:
    if config_map is None or not config_map.data:
        return None
    found = config_map.value("jwks")
    return found if found is not None else config_map.data[0][1]


def resolving(decode: Callable[[dict[str, Any]], Policy],
              config_maps: Mapping[tuple[str, str], ConfigMap],
              ) -> Callable[[dict[str, Any]], Policy]:
    """`decode`, with JWKS ConfigMap references resolved (see the module docstring)."""
    def decoded(obj: dict[str, Any]) -> Policy:
        policy = decode(obj)
        if policy.kind != SECURITY_POLICY or '"ValueRef"' not in policy.spec:
            return policy
        namespace = policy.meta.namespace
        spec = inline_jwks(policy.spec_value(),
                           lambda name: _jwks(config_maps.get((namespace, name))))
        return Policy.decode({**obj, "spec": spec})
    return decoded


def _jwt(found: JwtSettings, prefix: str) -> Jwt:
    return Jwt(tuple(JwtProvider(
        f"{prefix}/{p.name}", p.jwks, p.issuer, p.audiences, p.claim_to_headers,
        p.recompute_route, p.from_headers, p.from_cookies, p.from_params)
        for p in found.providers), found.optional)


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
        route = replace(route, jwt=_jwt(jwt, prefix))
    if authorization is not None and route.authorization is None:
        route = replace(route, authorization=_authorization(authorization))
    return route


def _needs(configs: list[RouteConfig]) -> tuple[tuple[Jwt, ...], bool]:
    jwts: dict[str, Jwt] = {}
    rbac = False
    for config in configs:
        for vhost in config.virtual_hosts:
            for route in vhost.routes:
                if route.jwt is not None:
                    jwts.setdefault(route.jwt.name, route.jwt)
                rbac = rbac or route.authorization is not None
    return tuple(jwts[name] for name in sorted(jwts)), rbac


def _listener(li: Listener, tables: dict[str, RouteConfig]) -> Listener:
    names = [li.route_config] if li.route_config else [c.route_config for c in li.tls_chains]
    jwt, rbac = _needs([tables[n] for n in names if n in tables])
    if (jwt, rbac) == (li.jwt, li.rbac):
        return li
    return replace(li, jwt=jwt, rbac=rbac)


def with_filters(ir: GatewayIR, store: Store | None) -> GatewayIR:
    """`ir` with each listener marked with the filters its routes need (see the module
    docstring)."""
    key = ("authn-filters", ir.key)
    found = store.get(key) if store is not None else None
    if found is None or found[0] is not ir.listeners or found[1] is not ir.route_configs:
        tables = {c.name: c for c in ir.route_configs}
        listeners = tuple(_listener(li, tables) for li in ir.listeners)
        found = (ir.listeners, ir.route_configs, listeners)
    if store is not None:
        store.put(key, found)
    if all(a is b for a, b in zip(found[2], ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=found[2])
