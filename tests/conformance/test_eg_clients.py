"""Envoy Gateway's decompressing client and custom-response check, as the cases use them."""

from __future__ import annotations

import gzip

import brotli  # type: ignore[import-untyped]
import zstandard

from propylon.conformance.clients import custom_response, decompressed
from propylon.conformance.matching import Response

BODY = b'{"path": "/compression"}'


def test_bodies_are_decoded_by_their_content_encoding() -> None:
    for encoding, data in (("gzip", gzip.compress(BODY)), ("br", brotli.compress(BODY)),
                           ("zstd", zstandard.ZstdCompressor().compress(BODY))):
        response = Response(200, [("Content-Encoding", encoding)], data)
        assert decompressed(response).body == BODY
        assert decompressed(response).joined("content-encoding") == encoding
    broken = Response(200, [("Content-Encoding", "gzip")], b"not gzip")
    assert decompressed(broken).body == b"not gzip"
    assert decompressed(Response(200, [], BODY)).body == BODY


def test_custom_response_compares_status_type_body_and_first_header_values() -> None:
    response = Response(404, [("Content-Type", "text/plain"), ("X-A", "1"), ("X-A", "2")],
                        b"404 gone")
    wanted = {"status": 404, "contentType": "text/plain", "body": "404 gone",
              "responseHeaders": {"X-A": "1"}}
    assert custom_response(wanted, response) is None
    assert "expected status 500" in str(custom_response({**wanted, "status": 500}, response))
    assert "Content-Type ''" in str(custom_response({**wanted, "contentType": ""}, response))
    assert "a body other than" in str(custom_response({"status": 404, "bodyNot": "404 gone"},
                                                      response))
    assert "X-A" in str(custom_response({**wanted, "responseHeaders": {"X-A": "2"}}, response))
