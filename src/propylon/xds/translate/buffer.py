"""IR request body limits -> Envoy's buffer filter: in the connection managers of tables where
some route limits request bodies (`httpfilters.FILTERS`), disabled there and enabled per route
(`typed_per_filter_config`, a `BufferPerRoute` with the route's limit). Envoy then receives the
whole request body before sending it on, and answers 413 to a body larger than the limit, as
Envoy Gateway's BackendTrafficPolicy `requestBuffer` does."""

from __future__ import annotations

from typing import Any

from envoy.extensions.filters.http.buffer.v3.buffer_pb2 import Buffer, BufferPerRoute
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)
from google.protobuf.wrappers_pb2 import UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate.messages import pack

BUFFER_FILTER = "envoy.filters.http.buffer"
_UNUSED_LIMIT = 2**32 - 1  # the disabled instance's own limit: every route using it sets one


def uses(route: ir.Route) -> int | None:
    return route.request_body_limit


def chain(_used: frozenset[int]) -> list[HttpFilter]:
    """The buffer filter, disabled: only routes with a limit turn it on."""
    return [HttpFilter(name=BUFFER_FILTER, disabled=True, typed_config=pack(
        Buffer(max_request_bytes=UInt32Value(value=_UNUSED_LIMIT))))]


def per_route(limit: int) -> dict[str, Any]:
    """The route's `BufferPerRoute`: bodies up to `limit` bytes."""
    return {BUFFER_FILTER: pack(BufferPerRoute(
        buffer=Buffer(max_request_bytes=UInt32Value(value=limit))))}
