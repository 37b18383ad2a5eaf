"""IR ext auths -> Envoy's `ext_authz` HTTP filters, as Envoy Gateway configures them.

A connection manager carries one filter per authorisation service its routes use
(`envoy.filters.http.ext_authz/<IR name>`: `chain`, registered in `httpfilters`), disabled
by default; a route that uses one enables
it through `typed_per_filter_config` (an `ExtAuthzPerRoute` whose check settings carry the
context extensions), so other routes never call it.

HTTP services get the request's method, path and headers (Envoy's defaults: Host, Method,
Path, Content-Length, Authorization, plus `headers_to_ext_auth`) at `path_prefix` + the path;
`path_override` replaces the auth request's whole path (Envoy's `path_override`). A 2xx lets
the request through with the answer's `headers_to_backend`; any other answer goes back to the
client. gRPC services get a `CheckRequest` over `envoy.service.auth.v3.Authorization`. When
the service fails or cannot be reached the client gets `status_on_error` (403 by default),
unless `fail_open`. A body over `body_max_bytes` is refused with 413.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.core.v3.config_source_pb2 import ApiVersion
from envoy.config.core.v3.grpc_service_pb2 import GrpcService
from envoy.config.core.v3.http_uri_pb2 import HttpUri
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2 as pb
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)
from envoy.type.matcher.v3.string_pb2 import ListStringMatcher, StringMatcher
from google.protobuf.any_pb2 import Any

from propylon.ir import model as ir
from propylon.xds.translate.clusters import duration_ms
from propylon.xds.translate.messages import pack

FILTER = "envoy.filters.http.ext_authz"


def _path_override(path: str) -> bytes:
    """`HttpService.path_override` (field 10, newer than the Python protos but known to the
    Envoy Propylon runs) as wire bytes: kept as an unknown field, sent as is."""
    value = path.encode()
    length = bytearray()
    n = len(value)
    while True:
        byte, n = n & 0x7F, n >> 7
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([10 << 3 | 2]) + bytes(length) + value


def filter_name(ext: ir.ExtAuth) -> str:
    return f"{FILTER}/{ext.name}"


def _headers(names: tuple[str, ...]) -> ListStringMatcher:
    return ListStringMatcher(patterns=[StringMatcher(exact=n, ignore_case=True) for n in names])


def http_filter(ext: ir.ExtAuth) -> HttpFilter:
    """The (disabled) filter asking `ext`'s service."""
    out = pb.ExtAuthz(transport_api_version=ApiVersion.V3, failure_mode_allow=ext.fail_open,
                      clear_route_cache=ext.recompute_route)
    timeout = duration_ms(ext.timeout_ms)
    if ext.grpc:
        out.grpc_service.CopyFrom(GrpcService(
            envoy_grpc=GrpcService.EnvoyGrpc(cluster_name=ext.cluster, authority=ext.authority),
            timeout=timeout))
    else:
        service = out.http_service
        path = ext.path_prefix if ext.path_override is None else ext.path_override
        service.server_uri.CopyFrom(HttpUri(uri=f"http://{ext.authority}{path}",
                                            cluster=ext.cluster, timeout=timeout))
        service.path_prefix = ext.path_prefix
        if ext.path_override is not None:
            service.MergeFromString(_path_override(ext.path_override))
        if ext.headers_to_backend:
            service.authorization_response.allowed_upstream_headers.CopyFrom(
                _headers(ext.headers_to_backend))
    if ext.headers_to_ext_auth:
        out.allowed_headers.CopyFrom(_headers(ext.headers_to_ext_auth))
    if ext.body_max_bytes is not None:
        out.with_request_body.CopyFrom(pb.BufferSettings(max_request_bytes=ext.body_max_bytes))
    if ext.status_on_error is not None:
        out.status_on_error.code = ext.status_on_error
    return HttpFilter(name=filter_name(ext), typed_config=pack(out), disabled=True)


def chain(ext_auths: Iterable[ir.ExtAuth]) -> list[HttpFilter]:
    """The connection manager's (disabled) filters for the ext auths its routes use, one per
    name."""
    return [http_filter(e) for e in sorted(set(ext_auths), key=lambda e: e.name)]


def per_route(ext: ir.ExtAuth) -> dict[str, Any]:
    """A route's `typed_per_filter_config` entry turning its ext auth filter on."""
    return {filter_name(ext): pack(pb.ExtAuthzPerRoute(check_settings=pb.CheckSettings(
        context_extensions=dict(ext.context_extensions))))}
