"""IR JWT requirements and authorization rules -> Envoy's `jwt_authn` and `rbac` filters.

As Envoy Gateway does, a connection manager carries each filter only when some route of its
tables needs it (`httpfilters` registers them: `jwt_chain`, `rbac_filter_config`), and the
filter acts only on the routes that name it (`typed_per_filter_config`: `jwt_per_route`,
`rbac_per_route`); other routes pass through untouched.

JWT: the filter holds every provider of the requirements its routes name (local JWKS, or remote
JWKS fetched through the Service's cluster in the background, so a listener never waits for
it, kept for the cache duration, and fetched again after the failed-refetch duration when a
fetch fails; the token forwarded to the backend unchanged, its payload in the request's
dynamic metadata under the provider's name with `scope` split at spaces into a list, claims
copied into headers, the route recomputed when asked) and one requirement per IR `Jwt`, named
by `Jwt.name`; a route names its requirement (a token of any of its providers; with
`optional`, or none at all). CORS preflights are let through.

Authorization: the filter-level RBAC is empty (enforces nothing); a route carries its own.
Envoy's RBAC has one action for all its policies, while Envoy Gateway's rules are tried in
order and the first that matches decides; so the route's RBAC is an ALLOW list whose policy
for rule i (an Allow rule) is "rule i matches and no earlier rule does", plus, when the default
is Allow, "no rule matches". A client CIDR is matched against the client address as the
connection manager found it (`remote_ip`: from X-Forwarded-For when a ClientTrafficPolicy
trusts it), methods against `:method`. A JWT principal is matched against the payload the JWT
filter left in the request's dynamic metadata under the provider's name: each claim (a nested
one by its keys) equal to one of its values, or a list holding one; each scope in the token's
`scope` (split at spaces by the JWT filter) or `scp` list. A request without a verified token
of that provider has no such payload, and so does not match.
"""

from __future__ import annotations

from collections.abc import Sequence

from envoy.config.core.v3.address_pb2 import CidrRange
from envoy.config.core.v3.base_pb2 import DataSource
from envoy.config.core.v3.http_uri_pb2 import HttpUri
from envoy.config.rbac.v3 import rbac_pb2 as rbac_config
from envoy.config.route.v3.route_components_pb2 import HeaderMatcher
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as rbac_pb
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb,
)
from envoy.type.matcher.v3.metadata_pb2 import MetadataMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from envoy.type.matcher.v3.value_pb2 import ListMatcher, ValueMatcher
from google.protobuf.any_pb2 import Any
from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate.clusters import duration_ms
from propylon.xds.translate.messages import pack

JWT_FILTER = "envoy.filters.http.jwt_authn"
RBAC_FILTER = "envoy.filters.http.rbac"
JWKS_FETCH_TIMEOUT = Duration(seconds=10)
SCOPE_CLAIMS = ("scope", "scp")  # where a token's scopes are; `scope` split at spaces


def jwt_chain(jwts: Sequence[ir.Jwt]) -> tuple[hcm_pb.HttpFilter, ...]:
    """The JWT filter of a connection manager whose routes name the requirements `jwts`."""
    return (hcm_pb.HttpFilter(name=JWT_FILTER, typed_config=pack(_jwt_filter(jwts))),)


def rbac_filter_config() -> Any:
    """The filter-level RBAC: empty, it enforces nothing; each route carries its own."""
    return pack(rbac_pb.RBAC())


def _provider(p: ir.JwtProvider) -> jwt_pb.JwtProvider:
    out = jwt_pb.JwtProvider(
        audiences=list(p.audiences),
        forward=True,
        payload_in_metadata=p.name,
        normalize_payload_in_metadata=jwt_pb.JwtProvider.NormalizePayload(
            space_delimited_claims=["scope"]),
        claim_to_headers=[jwt_pb.JwtClaimToHeader(claim_name=claim, header_name=header)
                          for claim, header in p.claim_to_headers],
        clear_route_cache=p.recompute_route,
        from_headers=[jwt_pb.JwtHeader(name=name, value_prefix=prefix)
                      for name, prefix in p.from_headers],
        from_cookies=list(p.from_cookies),
        from_params=list(p.from_params),
    )
    if p.issuer is not None:
        out.issuer = p.issuer
    if p.remote_uri is None or p.remote_cluster is None:
        out.local_jwks.CopyFrom(DataSource(inline_string=p.jwks))
        return out
    remote = out.remote_jwks
    remote.http_uri.CopyFrom(HttpUri(uri=p.remote_uri, cluster=p.remote_cluster,
                                     timeout=JWKS_FETCH_TIMEOUT))
    remote.async_fetch.CopyFrom(jwt_pb.JwksAsyncFetch(fast_listener=True))
    if p.failed_refetch_ms is not None:
        remote.async_fetch.failed_refetch_duration.CopyFrom(duration_ms(p.failed_refetch_ms))
    if p.cache_duration_ms is not None:
        remote.cache_duration.CopyFrom(duration_ms(p.cache_duration_ms))
    return out


def _requirement(jwt: ir.Jwt) -> jwt_pb.JwtRequirement:
    names = [p.name for p in jwt.providers]
    if len(names) == 1 and not jwt.optional:
        return jwt_pb.JwtRequirement(provider_name=names[0])
    any_of = [jwt_pb.JwtRequirement(provider_name=n) for n in names]
    if jwt.optional:
        any_of.append(jwt_pb.JwtRequirement(allow_missing=Empty()))
    return jwt_pb.JwtRequirement(requires_any=jwt_pb.JwtRequirementOrList(requirements=any_of))


def _jwt_filter(jwts: Sequence[ir.Jwt]) -> jwt_pb.JwtAuthentication:
    out = jwt_pb.JwtAuthentication(bypass_cors_preflight=True)
    for jwt in jwts:
        for p in jwt.providers:
            out.providers[p.name].CopyFrom(_provider(p))
        out.requirement_map[jwt.name].CopyFrom(_requirement(jwt))
    return out


def jwt_per_route(jwt: ir.Jwt) -> Any:
    """The per-route config naming the route's requirement."""
    return pack(jwt_pb.PerRouteConfig(requirement_name=jwt.name))


def _cidr(cidr: str) -> rbac_config.Principal:
    address, length = cidr.split("/")
    return rbac_config.Principal(remote_ip=CidrRange(address_prefix=address,
                                                     prefix_len=UInt32Value(value=int(length))))


def _any_of(ids: list[rbac_config.Principal]) -> rbac_config.Principal:
    if len(ids) == 1:
        return ids[0]
    return rbac_config.Principal(or_ids=rbac_config.Principal.Set(ids=ids))


def _all_of(ids: list[rbac_config.Principal]) -> rbac_config.Principal:
    if not ids:
        return rbac_config.Principal(any=True)
    if len(ids) == 1:
        return ids[0]
    return rbac_config.Principal(and_ids=rbac_config.Principal.Set(ids=ids))


def _header(name: str, value: str) -> rbac_config.Principal:
    return rbac_config.Principal(header=HeaderMatcher(
        name=name, string_match=StringMatcher(exact=value)))


def _claim(provider: str, path: tuple[str, ...], value: str,
           in_list: bool) -> rbac_config.Principal:
    match = ValueMatcher(string_match=StringMatcher(exact=value))
    if in_list:
        match = ValueMatcher(list_match=ListMatcher(one_of=match))
    return rbac_config.Principal(metadata=MetadataMatcher(
        filter=JWT_FILTER, path=[MetadataMatcher.PathSegment(key=k) for k in (provider, *path)],
        value=match))


def _jwt_principal(jwt: ir.JwtPrincipal) -> list[rbac_config.Principal]:
    parts = [_any_of([_claim(jwt.provider, (key,), scope, True) for key in SCOPE_CLAIMS])
             for scope in jwt.scopes]
    parts.extend(_any_of([_claim(jwt.provider, c.path, v, c.string_array) for v in c.values])
                 for c in jwt.claims)
    return parts


def _rule(rule: ir.AuthzRule) -> rbac_config.Principal:
    parts = []
    if rule.client_cidrs:
        parts.append(_any_of([_cidr(c) for c in rule.client_cidrs]))
    if rule.jwt is not None:
        parts.extend(_jwt_principal(rule.jwt))
    parts.extend(_any_of([_header(name, v) for v in values]) for name, values in rule.headers)
    if rule.methods:
        parts.append(_any_of([_header(":method", m) for m in rule.methods]))
    return _all_of(parts)


def _none_of(matches: list[rbac_config.Principal]) -> list[rbac_config.Principal]:
    return [rbac_config.Principal(not_id=_any_of(matches))] if matches else []


def rbac_per_route(authorization: ir.Authorization) -> Any:
    """The route's RBAC (see the module docstring)."""
    rules = rbac_config.RBAC(action=rbac_config.RBAC.ALLOW)
    earlier: list[rbac_config.Principal] = []
    for i, rule in enumerate(authorization.rules):
        match = _rule(rule)
        if rule.allow:
            rules.policies[f"rule-{i}"].CopyFrom(rbac_config.Policy(
                permissions=[rbac_config.Permission(any=True)],
                principals=[_all_of([match, *_none_of(earlier)])]))
        earlier.append(match)
    if authorization.default_allow:
        rules.policies["default"].CopyFrom(rbac_config.Policy(
            permissions=[rbac_config.Permission(any=True)],
            principals=[_all_of(_none_of(earlier))]))
    return pack(rbac_pb.RBACPerRoute(rbac=rbac_pb.RBAC(rules=rules)))
