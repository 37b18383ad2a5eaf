"""IR CORS policies -> Envoy's CORS filter: in the connection managers of tables where some
route has a CORS policy (`httpfilters.FILTERS`), configured per route through
`typed_per_filter_config`.

Envoy answers a preflight (OPTIONS with Origin and Access-Control-Request-Method) itself when the
Origin is allowed, echoing the Origin; preflights from other origins are answered too, without
CORS headers (`forward_not_matching_preflights: false`), so they never reach a backend. Origins
become anchored regular expressions (`translate.regexes.origin_regex`, where a rule whose origin
Envoy would refuse is dropped first).
"""

from __future__ import annotations

from envoy.extensions.filters.http.cors.v3.cors_pb2 import Cors, CorsPolicy
from envoy.type.matcher.v3.regex_pb2 import RegexMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from google.protobuf.any_pb2 import Any
from google.protobuf.wrappers_pb2 import BoolValue

from propylon.ir import model as ir
from propylon.translate.regexes import origin_regex
from propylon.xds.translate.messages import pack

CORS_FILTER = "envoy.filters.http.cors"


def filter_config() -> Any:
    """The (empty) filter-level config: every setting is per route."""
    return pack(Cors())


def policy(cors: ir.Cors) -> Any:
    """The per-route `CorsPolicy` of one IR CORS policy, packed for `typed_per_filter_config`."""
    out = CorsPolicy(
        allow_origin_string_match=[StringMatcher(safe_regex=RegexMatcher(regex=origin_regex(o)))
                                   for o in cors.allow_origins],
        allow_methods=", ".join(cors.allow_methods),
        allow_headers=", ".join(cors.allow_headers),
        expose_headers=", ".join(cors.expose_headers),
        max_age=str(cors.max_age_s),
        allow_credentials=BoolValue(value=cors.allow_credentials),
        forward_not_matching_preflights=BoolValue(value=False),
    )
    return pack(out)
