"""IR sessions -> Envoy's stateful session filter, enabled per route.

A connection manager whose table has a route with a session has the filter, disabled
(`disabled: true`, in Envoy Gateway's place: `httpfilters`); such a route enables it through
`typed_per_filter_config` with its own `StatefulSessionPerRoute` (the cookie, with its path and
TTL, or the header), so a route without one is untouched. With a cookie, Envoy answers the
first request with `Set-Cookie: <name>="<base64 of the endpoint>"; Max-Age=<ttl>; Path=<path>;
HttpOnly` (no Max-Age for a session cookie); with a header, it sets the header on the response.
"""

from __future__ import annotations

from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.extensions.filters.http.stateful_session.v3.stateful_session_pb2 import (
    StatefulSession,
    StatefulSessionPerRoute,
)
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb,
)
from envoy.extensions.http.stateful_session.cookie.v3.cookie_pb2 import CookieBasedSessionState
from envoy.extensions.http.stateful_session.header.v3.header_pb2 import HeaderBasedSessionState
from google.protobuf.any_pb2 import Any

from propylon.ir import model as ir
from propylon.xds.translate.messages import pack

SESSION_FILTER = "envoy.filters.http.stateful_session"


def http_filter() -> hcm_pb.HttpFilter:
    """The connection manager's filter: disabled until a route enables it."""
    return hcm_pb.HttpFilter(name=SESSION_FILTER, typed_config=pack(StatefulSession()),
                             disabled=True)


def per_route(session: ir.Session) -> Any:
    """The `typed_per_filter_config` of a route with `session`."""
    if session.type == "Header":
        state = TypedExtensionConfig(name="envoy.http.stateful_session.header",
                                     typed_config=pack(HeaderBasedSessionState(
                                         name=session.name)))
    else:
        cookie = CookieBasedSessionState()
        cookie.cookie.name = session.name
        cookie.cookie.path = session.path
        if session.ttl_ms is not None:
            cookie.cookie.ttl.FromMilliseconds(session.ttl_ms)
        state = TypedExtensionConfig(name="envoy.http.stateful_session.cookie",
                                     typed_config=pack(cookie))
    return pack(StatefulSessionPerRoute(stateful_session=StatefulSession(session_state=state)))
