"""`envoy_rejects` and `rejected` against the real Envoy, with bootstraps built for the test."""

from __future__ import annotations

from typing import Any

from propylon.xds.validate import envoy_rejects, rejected


def _bootstrap(header_values: list[str]) -> dict[str, Any]:
    """One listener whose route adds a header of each value (Envoy refuses a line break)."""
    return {"static_resources": {"listeners": [{
        "name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 80}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network."
                         "http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "l",
                "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3."
                             "Router"}}],
                "route_config": {"virtual_hosts": [{
                    "name": "v", "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200},
                                "request_headers_to_add": [
                                    {"header": {"key": f"x-{i}", "value": v}}
                                    for i, v in enumerate(header_values)]}]}]}}}]}]}]}}


def test_envoy_accepts_a_valid_bootstrap_and_says_why_it_refuses_another() -> None:
    assert envoy_rejects(_bootstrap(["fine"])) is None
    refusal = envoy_rejects(_bootstrap(["a\nb"]))
    assert refusal is not None and "HeaderValueValidationError.Value" in refusal


def test_rejected_finds_each_refused_item_of_a_batch() -> None:
    items = ["a", "b\n", "c", "d", "e\r", "f", "g"]
    runs: list[int] = []

    def bootstrap_of(batch: Any) -> dict[str, Any]:
        runs.append(len(batch))
        return _bootstrap(list(batch))

    assert [item for item, _ in rejected(items, bootstrap_of)] == ["b\n", "e\r"]
    assert rejected(["a", "c"], bootstrap_of) == []
    assert runs[-1] == 2  # a batch Envoy accepts costs one run
