"""The order of the HTTP filters between the fault and CORS filters and the router, as Envoy
Gateway sorts them (internal/xds/translator/httpfilters.go): JWT (7), then filters without a
rank of their own (50, such as the late response header mutation), RBAC (301), local rate
limit (302), custom response (304), compressors (306); equal ranks by name. A filter is ranked
by the longest name prefix listed.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)

DEFAULT_RANK = 50
RANKS = {
    "envoy.filters.http.jwt_authn": 7,
    "envoy.filters.http.rbac": 301,
    "envoy.filters.http.local_ratelimit": 302,
    "envoy.filters.http.custom_response": 304,
    "envoy.filters.http.compressor": 306,
}


def rank(name: str) -> int:
    found = [p for p in RANKS if name == p or name.startswith(p + ".")]
    return RANKS[max(found, key=len)] if found else DEFAULT_RANK


def ordered(filters: Iterable[HttpFilter]) -> list[HttpFilter]:
    """`filters` in Envoy Gateway's order (see the module docstring)."""
    return sorted(filters, key=lambda f: (rank(f.name), f.name))
