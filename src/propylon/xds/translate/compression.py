"""IR compression -> Envoy's compressor filters, as Envoy Gateway builds them.

A connection manager carries one compressor filter per algorithm some route of its table
uses (`chain`, registered in `httpfilters`), named
`envoy.filters.http.compressor.<brotli|gzip|zstd>` (just before the router), each disabled by
default with the algorithm's default library settings. A filter has one minimum content
length, so routes asking for different ones get the smallest (Envoy Gateway takes its first
route's); the algorithm routes list first is `choose_first` (when they disagree, the first of
the alphabetically smallest list), so a client accepting several algorithms equally gets it.
A route that compresses enables its algorithms (`per_route`) and drops the request's
Accept-Encoding (`routes`), so the backend answers uncompressed and the proxy compresses once.
"""

from __future__ import annotations

from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
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
from propylon.xds.translate.messages import pack

FILTER_PREFIX = "envoy.filters.http.compressor"
ACCEPT_ENCODING = "accept-encoding"
_LIBRARIES: dict[str, tuple[str, type[Message]]] = {
    "Brotli": ("envoy.compression.brotli.compressor", Brotli),
    "Gzip": ("envoy.compression.gzip.compressor", Gzip),
    "Zstd": ("envoy.compression.zstd.compressor", Zstd),
}


def filter_name(compression: ir.Compression) -> str:
    return f"{FILTER_PREFIX}.{compression.type.lower()}"


def uses(route: ir.Route) -> tuple[ir.Compression, ...] | None:
    return route.compression or None


def chain(used: frozenset[tuple[ir.Compression, ...]]) -> list[HttpFilter]:
    """The (disabled) compressor filters for the compressions routes use, in name order."""
    lists = sorted(used, key=lambda found: [c.type for c in found])
    first = lists[0][0].type
    lengths: dict[str, int | None] = {}
    for compression in (c for found in lists for c in found):
        known = lengths.get(compression.type, compression.min_content_length)
        length = compression.min_content_length
        lengths[compression.type] = None if known is None or length is None \
            else min(known, length)
    out = []
    for kind, length in lengths.items():
        library, message = _LIBRARIES[kind]
        config = pb.Compressor(
            compressor_library=TypedExtensionConfig(name=library, typed_config=pack(message())),
            choose_first=kind == first)
        if length is not None:
            config.response_direction_config.common_config.min_content_length.value = length
        out.append(HttpFilter(name=f"{FILTER_PREFIX}.{kind.lower()}", typed_config=pack(config),
                              disabled=True))
    return sorted(out, key=lambda f: f.name)


def per_route(used: tuple[ir.Compression, ...]) -> dict[str, Any]:
    """What turns a route's compressors on."""
    enabled = pack(pb.CompressorPerRoute(overrides=pb.CompressorOverrides(
        response_direction_config=pb.ResponseDirectionOverrides())))
    return {filter_name(c): enabled for c in used}
