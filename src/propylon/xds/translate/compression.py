"""IR compression -> Envoy's compressor filters, as Envoy Gateway builds them.

A connection manager carries one compressor filter per algorithm some route of its listener
uses (`Listener.compressors`), named `envoy.filters.http.compressor.<brotli|gzip|zstd>` (in
that order, just before the router), each disabled by default with the algorithm's default
library settings and the listener's minimum content length; the first is `choose_first`, so
a client accepting several algorithms equally gets that one. A route that compresses enables
its algorithms through `typed_per_filter_config` and drops the request's Accept-Encoding, so
the backend answers uncompressed and the proxy compresses once.
"""

from __future__ import annotations

from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.compression.brotli.compressor.v3.brotli_pb2 import Brotli
from envoy.extensions.compression.gzip.compressor.v3.gzip_pb2 import Gzip
from envoy.extensions.compression.zstd.compressor.v3.zstd_pb2 import Zstd
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2 as pb
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from propylon.ir import model as ir

FILTER_PREFIX = "envoy.filters.http.compressor"
_LIBRARIES: dict[str, tuple[str, type[Message]]] = {
    "Brotli": ("envoy.compression.brotli.compressor", Brotli),
    "Gzip": ("envoy.compression.gzip.compressor", Gzip),
    "Zstd": ("envoy.compression.zstd.compressor", Zstd),
}


def _pack(message: Message) -> Any:
    packed = Any()
    packed.Pack(message)
    return packed


def filter_name(compression: ir.Compression) -> str:
    return f"{FILTER_PREFIX}.{compression.type.lower()}"


def http_filters(compressors: tuple[ir.Compression, ...]) -> list[HttpFilter]:
    """The (disabled) compressor filters of a connection manager, in name order."""
    out = []
    for i, compression in enumerate(compressors):
        library, message = _LIBRARIES[compression.type]
        config = pb.Compressor(
            compressor_library=TypedExtensionConfig(name=library, typed_config=_pack(message())),
            choose_first=i == 0)
        if compression.min_content_length is not None:
            config.response_direction_config.common_config.min_content_length.value = \
                compression.min_content_length
        out.append(HttpFilter(name=filter_name(compression), typed_config=_pack(config),
                              disabled=True))
    return sorted(out, key=lambda f: f.name)


def enable(route: ir.Route, out: rc.Route) -> None:
    """Turn on `route`'s compressors on its Envoy route `out`, which then drops
    Accept-Encoding."""
    for compression in route.compression:
        out.typed_per_filter_config[filter_name(compression)].CopyFrom(_pack(
            pb.CompressorPerRoute(overrides=pb.CompressorOverrides(
                response_direction_config=pb.ResponseDirectionOverrides()))))
    if route.compression and "accept-encoding" not in out.request_headers_to_remove:
        out.request_headers_to_remove.append("accept-encoding")
