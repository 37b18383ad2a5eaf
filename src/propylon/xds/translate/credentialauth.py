"""IR authentication -> Envoy's basic_auth and api_key_auth HTTP filters.

As Envoy Gateway does, a connection manager carries a filter only when some route of its
table uses it (`httpfilters` registers them), disabled there (`api_key_chain`,
`basic_auth_chain`), and each route that uses it enables it with its own settings in
`typed_per_filter_config` (`api_key_per_route`, `basic_auth_per_route`), so other routes are
untouched. basic_auth takes the users per route (`BasicAuthPerRoute`, htpasswd lines
inline) but the forwarded-username header only at the filter level: one basic_auth filter per
distinct header (`basic_auth_name`), whose filter-level users (which Envoy requires) are a
placeholder no password matches. api_key_auth takes everything per route
(`ApiKeyAuthPerRoute`: credentials, key sources in order, forwarding with `hide_credentials`).
Order, after CORS and faults and before JWT and RBAC (`authn`): api_key_auth, then basic_auth.

basic_auth checks `{SHA}` lines only. A route whose users use another hash (bcrypt, MD5-crypt,
...) is checked instead by Propylon's htpasswd service (`propylon.htpasswd.service`) through
one ext_authz filter, `HTPASSWD_CHECK_FILTER` (`htpasswd_chain`), which each such route enables
with its lines and forwarded-username header as context extensions (`htpasswd_per_route`): the
same 401 and challenge, the same header to the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from envoy.config.core.v3.base_pb2 import DataSource
from envoy.extensions.filters.http.api_key_auth.v3 import api_key_auth_pb2 as ak
from envoy.extensions.filters.http.basic_auth.v3 import basic_auth_pb2 as ba
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb,
)
from google.protobuf.any_pb2 import Any

from propylon.htpasswd import lines, service
from propylon.ir import model as ir
from propylon.xds.translate import extauth
from propylon.xds.translate.messages import pack

BASIC_AUTH_FILTER = "envoy.filters.http.basic_auth"
API_KEY_AUTH_FILTER = "envoy.filters.http.api_key_auth"
# basic_auth wants users at the filter level too, though every route enabling it gives its own:
# one no password can match (its SHA-1 would have to be all zero bytes)
NO_USERS = "unused:{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA="
_HTPASSWD_SERVICE = ir.ExtAuth(name="htpasswd", cluster=service.CLUSTER, authority="htpasswd",
                               grpc=True, status_on_error=503)
HTPASSWD_CHECK_FILTER = extauth.filter_name(_HTPASSWD_SERVICE)


def basic_auth_name(forward_username_header: str | None) -> str:
    """The basic_auth filter's name for routes forwarding the user name in that header."""
    header = (forward_username_header or "").lower()
    return f"{BASIC_AUTH_FILTER}/{header}" if header else BASIC_AUTH_FILTER


def api_key_chain(_uses: object) -> tuple[hcm_pb.HttpFilter, ...]:
    """The (disabled) api_key_auth filter of a connection manager some route of which checks
    API keys."""
    return (hcm_pb.HttpFilter(name=API_KEY_AUTH_FILTER, typed_config=pack(ak.ApiKeyAuth()),
                              disabled=True),)


def api_key_per_route(auth: ir.ApiKeyAuth) -> dict[str, Any]:
    """A route's `typed_per_filter_config` entry checking its API keys."""
    config = ak.ApiKeyAuthPerRoute(
        credentials=[ak.Credential(key=key, client=client) for client, key in auth.credentials],
        key_sources=[ak.KeySource(**{kind: name}) for kind, name in auth.sources])
    if auth.forward_client_id_header or auth.sanitize:
        config.forwarding.CopyFrom(ak.Forwarding(header=auth.forward_client_id_header or "",
                                                 hide_credentials=auth.sanitize))
    return {API_KEY_AUTH_FILTER: pack(config)}


def basic_auth_chain(uses: Iterable[ir.BasicAuth]) -> list[hcm_pb.HttpFilter]:
    """The (disabled) basic_auth filters of a connection manager whose routes use `uses`: one
    per forwarded-username header (`basic_auth_name`)."""
    headers = {basic_auth_name(header): header
               for header in sorted({auth.forward_username_header or "" for auth in uses})}
    return [hcm_pb.HttpFilter(
        name=name,
        typed_config=pack(ba.BasicAuth(users=DataSource(inline_string=NO_USERS),
                                       forward_username_header=headers[name])),
        disabled=True) for name in sorted(headers)]


def basic_auth_per_route(auth: ir.BasicAuth) -> dict[str, Any]:
    """A route's `typed_per_filter_config` entry checking its users."""
    return {basic_auth_name(auth.forward_username_header): pack(
        ba.BasicAuthPerRoute(users=DataSource(inline_string=auth.users)))}


def envoy_checks(route: ir.Route) -> ir.BasicAuth | None:
    """The route's basic auth when Envoy's basic_auth filter checks it (`{SHA}` lines only)."""
    auth = route.basic_auth
    return auth if auth is not None and lines.read(auth.users).sha_only else None


def htpasswd_checks(route: ir.Route) -> ir.BasicAuth | None:
    """The route's basic auth when Propylon's htpasswd service checks it (other hashes)."""
    auth = route.basic_auth
    return auth if auth is not None and not lines.read(auth.users).sha_only else None


def htpasswd_chain(_uses: object) -> tuple[hcm_pb.HttpFilter, ...]:
    """The (disabled) ext_authz filter asking Propylon's htpasswd service."""
    return (extauth.http_filter(_HTPASSWD_SERVICE),)


def htpasswd_per_route(auth: ir.BasicAuth) -> dict[str, Any]:
    """A route's `typed_per_filter_config` entry sending its users to the htpasswd service."""
    header = (auth.forward_username_header or "").lower()
    extensions = ((service.USERS, auth.users),
                  *(((service.FORWARD_USERNAME_HEADER, header),) if header else ()))
    return extauth.per_route(replace(_HTPASSWD_SERVICE, context_extensions=extensions))
