"""The HTTP filters of a connection manager: only those some route of its table uses, in
Envoy Gateway's order, each configured per route, so a table no policy reaches gets the router
alone and other routes of a table are untouched.

A filter is registered once, as one `HttpFilter` in `FILTERS`, with:
- `uses(route)`: what an IR route asks of the filter (a hashable IR value), or None when the
  route does not use it;
- `per_route(use)`: the route's `typed_per_filter_config` entries (filter instance name ->
  packed config), which is how the filter is enabled for that route;
- `chain(uses)`: the filter's entries in the connection manager given everything its routes
  use (one instance doing nothing by itself, one `disabled` instance per policy, or one holding
  what all routes share, such as JWT providers).
The filter's own module builds its messages; this one only lists them. Filters are ordered as
Envoy Gateway orders them (`ORDER`, from `newOrderedHTTPFilter` of its
`internal/xds/translator/httpfilters.go`; a filter's instances are named `<filter name>` or
`<filter name>/<more>`, and those of one kind are sorted by name); the router is always last
and is added by `listeners.py`.

`route_uses` is computed per IR virtual host (cached with its message by `build.Reuse`), the
uses of a route table are the union over its hosts, and `listeners.listener` builds each
connection manager's chain from the uses of its table with `chain`, together with the filters
of a ClientTrafficPolicy on the listener (which act on every route, so routes do not name
them), all in Envoy Gateway's order. What a filter needs at the listener level is derived
there from its routes' uses: the JWT providers of every requirement, one ext_authz per
service, one basic_auth per forwarded-username header (or the htpasswd service's ext_authz
when some line is not `{SHA}`). Requirements and
services are told apart by name (`one_per_name`: the policy stage names them after their
policy); two of one name give one filter, the same whichever pass built it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter as HcmFilter,
)

from propylon.ir import model as ir
from propylon.xds.translate import (
    authn,
    buffer,
    compression,
    cors,
    credentialauth,
    customresponse,
    extauth,
    fault,
    lua,
    ratelimit,
    session,
)

Uses = frozenset[tuple[str, Hashable]]  # (filter name, what one or more routes ask of it)
NO_USES: Uses = frozenset()
_HTTP = "envoy.filters.http."
ORDER = {f"{_HTTP}{kind}": order for kind, order in (
    ("custom_response", 0), ("health_check", 1), ("fault", 2), ("cors", 3), ("csrf", 4),
    ("header_mutation", 5), ("ext_authz", 6), ("api_key_auth", 7), ("basic_auth", 8),
    ("oauth2", 9), ("jwt_authn", 10), ("stateful_session", 11), ("buffer", 12),
    ("rbac", 301), ("local_ratelimit", 302), ("ratelimit", 303), ("bandwidth_limit", 304),
    ("grpc_web", 305), ("grpc_stats", 306), ("credential_injector", 307),
    ("compressor", 308))}
DEFAULT_ORDER = 50  # Envoy Gateway's, for a filter it does not list
LUA_ORDER = 13  # after the buffer, one place per script position (`lua`)


def order_of(name: str) -> int:
    """Envoy Gateway's place for the filter instance `name`."""
    kind, _, more = name.partition("/")
    if kind == lua.FILTER:
        return LUA_ORDER + int(more)
    return ORDER.get(kind, DEFAULT_ORDER)


@dataclass(frozen=True)
class HttpFilter:
    """One kind of HTTP filter routes may use (see the module docstring)."""

    name: str  # Envoy's filter name; instances of a filter kind start with it
    uses: Callable[[ir.Route], Hashable | None]
    per_route: Callable[[Any], Mapping[str, Any]]
    chain: Callable[[frozenset[Any]], Sequence[HcmFilter]]


def configured_per_route(name: str, uses: Callable[[ir.Route], Hashable | None],
                         policy: Callable[[Any], Any],
                         filter_config: Callable[[], Any]) -> HttpFilter:
    """A filter with one instance in the chain (`filter_config()`, which does nothing by
    itself) and `policy(use)` as each using route's config."""
    instance = (HcmFilter(name=name, typed_config=filter_config()),)
    return HttpFilter(name, uses,
                      per_route=lambda use: {name: policy(use)},
                      chain=lambda _uses: instance)


def one_per_name(uses: frozenset[Any]) -> list[Any]:
    """`uses` (IR values with a `name`), one per name, in name order."""
    return sorted({u.name: u for u in sorted(uses, key=repr, reverse=True)}.values(),
                  key=lambda u: str(u.name))


FILTERS: tuple[HttpFilter, ...] = (
    configured_per_route(fault.FAULT_FILTER, lambda route: route.fault,
                         fault.policy, fault.filter_config),
    configured_per_route(cors.CORS_FILTER, lambda route: route.cors,
                         cors.policy, cors.filter_config),
    HttpFilter(extauth.FILTER, lambda route: route.ext_auth, extauth.per_route,
               lambda uses: extauth.chain(one_per_name(uses))),
    HttpFilter(credentialauth.API_KEY_AUTH_FILTER, lambda route: route.api_key_auth,
               credentialauth.api_key_per_route, credentialauth.api_key_chain),
    HttpFilter(credentialauth.BASIC_AUTH_FILTER, credentialauth.envoy_checks,
               credentialauth.basic_auth_per_route, credentialauth.basic_auth_chain),
    HttpFilter(credentialauth.HTPASSWD_CHECK_FILTER, credentialauth.htpasswd_checks,
               credentialauth.htpasswd_per_route, credentialauth.htpasswd_chain),
    HttpFilter(authn.JWT_FILTER, lambda route: route.jwt,
               lambda jwt: {authn.JWT_FILTER: authn.jwt_per_route(jwt)},
               lambda uses: authn.jwt_chain(one_per_name(uses))),
    configured_per_route(authn.RBAC_FILTER, lambda route: route.authorization,
                         authn.rbac_per_route, authn.rbac_filter_config),
    HttpFilter(customresponse.CUSTOM_RESPONSE_FILTER, customresponse.uses,
               customresponse.per_route, customresponse.chain),
    HttpFilter(compression.FILTER_PREFIX, compression.uses, compression.per_route,
               compression.chain),
    HttpFilter(session.SESSION_FILTER, lambda route: route.session,
               per_route=lambda use: {session.SESSION_FILTER: session.per_route(use)},
               chain=lambda _uses: (session.http_filter(),)),
    configured_per_route(ratelimit.LOCAL_RATE_LIMIT_FILTER, lambda route: route.rate_limit,
                         ratelimit.policy, ratelimit.filter_config),
    HttpFilter(buffer.BUFFER_FILTER, buffer.uses, buffer.per_route, buffer.chain),
    HttpFilter(lua.FILTER, lua.uses, lua.per_route, lua.chain),
)


def route_uses(routes: Iterable[ir.Route]) -> Uses:
    """Everything `routes` ask of the registered filters."""
    return frozenset((f.name, use) for route in routes for f in FILTERS
                     if (use := f.uses(route)) is not None)


def per_route(route: ir.Route) -> dict[str, Any]:
    """The `typed_per_filter_config` of `route`: filter instance name -> packed config."""
    out: dict[str, Any] = {}
    for f in FILTERS:
        use = f.uses(route)
        if use is not None:
            out.update(f.per_route(use))
    return out


def chain(uses: Uses, marked: Iterable[HcmFilter] = ()) -> list[HcmFilter]:
    """The connection manager's filters before the router for a table with `uses`, and the
    `marked` ones of its listener (a ClientTrafficPolicy's, acting on every route), in Envoy
    Gateway's order."""
    out: list[HcmFilter] = list(marked)
    for f in FILTERS:
        mine = frozenset(use for name, use in uses if name == f.name)
        if mine:
            out.extend(f.chain(mine))
    return sorted(out, key=lambda f: (order_of(f.name), f.name))
