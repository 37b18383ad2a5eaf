"""The translator's verdicts on regexes and PEM are the real Envoy's.

`regexes.problem` and `pem.key_pair_problem` / `pem.ca_bundle_problem` decide, before anything
is sent, what Envoy would refuse. Here each case is also given to Envoy itself
(`envoy --mode validate` on a bootstrap holding a route with the regex, or a TLS listener with
the certificate, key and CA inline), and both must say the same: taken, or refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from propylon.translate import pem, regexes
from propylon.xds.validate import envoy_rejects
from tests.translate.test_certificate_refs import (
    BAD_PAIRS,
    GOOD_PAIRS,
    NOT_PEM,
    bad_pair,
    good_pair,
)
from tests.translate.test_regex_rules import LONG_METHOD, LONG_ORIGIN

# Envoy's RE2 parses Latin-1: the Unicode classes are small for it, \x{100} is invalid
REGEXES = [
    "/(?<=bar)x", r"/(a)\1", r"/\x{100}", r"/\x{ff}", "/" + "a" * 95, "/" + "a" * 96,
    "^/" + "a" * 300, r"\w" * 60, r"/\pL+", r"/[^/]+/\pN{3}", r"/caf\C", "/(?i)k" * 5,
    "/é" * 40, f"/[^/]+/{LONG_METHOD}", "/(", "/a{1001}", regexes.origin_regex(LONG_ORIGIN),
    regexes.origin_regex("https://*.example.com"),
]


def _validate(config: dict[str, Any]) -> tuple[bool, str]:
    refusal = envoy_rejects(config)
    return refusal is None, refusal or ""


def _listener(filter_chain: dict[str, Any]) -> dict[str, Any]:
    return {"static_resources": {
        "listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1",
                                                                   "port_value": 1}},
                       "filter_chains": [filter_chain]}],
        "clusters": [{"name": "c", "load_assignment": {"cluster_name": "c"}}]}}


def _route_with(regex: str) -> dict[str, Any]:
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network."
                    "http_connection_manager.v3.HttpConnectionManager",
           "stat_prefix": "x",
           "http_filters": [{"name": "router", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
           "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
               {"match": {"safe_regex": {"regex": regex}}, "direct_response": {"status": 200}}]}]}}
    return _listener({"filters": [{"name": "hcm", "typed_config": hcm}]})


def _tls_with(cert: str, key: str, ca: str | None = None) -> dict[str, Any]:
    common: dict[str, Any] = {"tls_certificates": [{"certificate_chain": {"inline_string": cert},
                                                    "private_key": {"inline_string": key}}]}
    if ca is not None:
        common["validation_context"] = {"trusted_ca": {"inline_string": ca}}
    tcp = {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
           "stat_prefix": "x", "cluster": "c"}
    return _listener({
        "transport_socket": {"name": "tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                     "DownstreamTlsContext", "common_tls_context": common}},
        "filters": [{"name": "tcp", "typed_config": tcp}]})


@pytest.mark.parametrize("regex", REGEXES)
def test_regex_verdict_is_envoys(regex: str) -> None:
    taken, output = _validate(_route_with(regex))
    ours = regexes.problem(regex)
    assert (ours is None) == taken, f"ours: {ours}; Envoy: {output[-400:]}"


@pytest.mark.parametrize("kind", [*GOOD_PAIRS, *sorted(BAD_PAIRS)])
def test_key_pair_verdict_is_envoys(kind: str) -> None:
    cert, key = good_pair(kind) if kind in GOOD_PAIRS else bad_pair(kind)
    taken, output = _validate(_tls_with(cert, key))
    ours = pem.key_pair_problem(cert, key)
    assert (ours is None) == taken, f"ours: {ours}; Envoy: {output[-400:]}"
    assert taken == (kind in GOOD_PAIRS)


@pytest.mark.parametrize("bundle", ["CA", "CA+NOT_PEM", "NOT_PEM", "text", "CA+key", "key",
                                    "indented", "CA+indented", "one-line"])
def test_ca_bundle_verdict_is_envoys(bundle: str) -> None:
    cert, key = good_pair("ec-p256")
    ca_pem = good_pair("ec-p384")[0]
    parts = {"CA": ca_pem, "NOT_PEM": NOT_PEM, "text": "text\n", "key": key,
             "indented": "  " + ca_pem, "one-line": " ".join(ca_pem.splitlines())}
    ca = "".join(parts[p] for p in bundle.split("+"))
    taken, output = _validate(_tls_with(cert, key, ca))
    ours = pem.ca_bundle_problem(ca)
    assert (ours is None) == taken, f"ours: {ours}; Envoy: {output[-400:]}"
