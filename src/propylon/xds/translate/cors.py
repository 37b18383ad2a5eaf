"""IR CORS policies -> Envoy's CORS filter: one filter in every connection manager (before the
router), configured per route through `typed_per_filter_config`.

Envoy answers a preflight (OPTIONS with Origin and Access-Control-Request-Method) itself when the
Origin is allowed, echoing the Origin; preflights from other origins are answered too, without
CORS headers (`forward_not_matching_preflights: false`), so they never reach a backend. Origins
become anchored regular expressions: `*` stands for any characters (any number of DNS labels to
its left), and an origin without port also matches its scheme's default port, as the Gateway API
defines.
"""

from __future__ import annotations

import re

from envoy.extensions.filters.http.cors.v3.cors_pb2 import Cors, CorsPolicy
from envoy.type.matcher.v3.regex_pb2 import RegexMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from google.protobuf.any_pb2 import Any
from google.protobuf.wrappers_pb2 import BoolValue

from propylon.ir import model as ir

CORS_FILTER = "envoy.filters.http.cors"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _pack(message: Cors | CorsPolicy) -> Any:
    packed = Any()
    packed.Pack(message)
    return packed


def filter_config() -> Any:
    """The (empty) filter-level config: every setting is per route."""
    return _pack(Cors())


def _origin_regex(origin: str) -> str:
    if origin == "*":
        return ".*"
    scheme, sep, rest = origin.partition("://")
    body = ".*".join(re.escape(part) for part in (rest if sep else origin).split("*"))
    default_port = _DEFAULT_PORTS.get(scheme.lower()) if sep else None
    if default_port is not None and ":" not in rest:
        body += f"(:{default_port})?"
    return f"^{re.escape(scheme)}://{body}$" if sep else f"^{body}$"


def policy(cors: ir.Cors) -> Any:
    """The per-route `CorsPolicy` of one IR CORS policy, packed for `typed_per_filter_config`."""
    out = CorsPolicy(
        allow_origin_string_match=[StringMatcher(safe_regex=RegexMatcher(regex=_origin_regex(o)))
                                   for o in cors.allow_origins],
        allow_methods=", ".join(cors.allow_methods),
        allow_headers=", ".join(cors.allow_headers),
        expose_headers=", ".join(cors.expose_headers),
        max_age=str(cors.max_age_s),
        allow_credentials=BoolValue(value=cors.allow_credentials),
        forward_not_matching_preflights=BoolValue(value=False),
    )
    return _pack(out)
