"""Envoy Gateway's own request clients and checks, beside the harness's (`requests`,
`matching`).

- `decompressed(response)`: what Envoy Gateway's CompressionRoundTripper reads, the body
  decompressed as its Content-Encoding says (gzip, br, zstd; the header is kept).
- `custom_response(expect, response)`: its verifyCustomResponse check: the status exactly,
  `contentType` (exact; `''` = absent or empty), `body` exactly or `bodyNot`, and
  `responseHeaders` by the first value of each header; None when it holds, else the reason.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import brotli  # type: ignore[import-untyped]
import zstandard

from propylon.conformance.matching import Response

_DECODERS = {"gzip": gzip.decompress, "br": brotli.decompress,
             "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data)}


def decompressed(response: Response) -> Response:
    """`response` with its body decoded by its Content-Encoding (unknown encodings, and a
    body that does not decode: as is, which no echo check accepts)."""
    encoding = (response.joined("content-encoding") or "").strip().lower()
    decode = _DECODERS.get(encoding)
    if decode is None or not response.body:
        return response
    try:
        return replace(response, body=decode(response.body))
    except (OSError, EOFError, zlib.error, brotli.error, zstandard.ZstdError):
        return response


def custom_response(expect: Mapping[str, Any], response: Response) -> str | None:
    if response.status != int(expect.get("status", 200)):
        return f"expected status {expect.get('status', 200)}, got {response.status}"
    if "contentType" in expect:
        got = response.joined("content-type") or ""
        if got != str(expect["contentType"]):
            return f"expected Content-Type {expect['contentType']!r}, got {got!r}"
    body = response.body.decode(errors="replace")
    if "body" in expect and body != str(expect["body"]):
        return f"expected body {expect['body']!r}, got {body!r}"
    if "bodyNot" in expect and body == str(expect["bodyNot"]):
        return f"expected a body other than {expect['bodyNot']!r}"
    for name, value in (expect.get("responseHeaders") or {}).items():
        values = response.header_values(str(name))
        if not values or values[0] != str(value):
            return f"expected response header {name}: {value!r}, got {values[:1]}"
    return None
