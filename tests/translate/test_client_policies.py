"""ClientTrafficPolicy client IP detection, headers, protocol and TLS settings on the ports
they govern, BackendTrafficPolicy compression and response overrides on the routes they
govern, with a clear refusal of values Propylon cannot use."""

from __future__ import annotations

from typing import Any

from propylon.ir.model import ClientSettings, Compression, HeaderMutation, HeaderValue
from propylon.translate.types import Result
from tests.translate.test_policies import KEY, btp, conditions, entries, run, target


def ctp(name: str, spec: dict[str, Any], **targets: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "ClientTrafficPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {**targets, **spec}}


def client_conditions(result: Result, name: str) -> dict[str, dict[str, Any]]:
    [update] = [u for u in result.statuses if u.kind == "ClientTrafficPolicy" and u.name == name]
    [entry] = update.status.to_json()["ancestors"]
    return {c["type"]: c for c in entry["conditions"]}


def listeners(result: Result) -> dict[int, Any]:
    return {li.port: li for li in result.gateways[KEY].listeners}


def test_compression_reaches_the_routes_it_governs() -> None:
    result = run(btp("zip", {"compressor": [{"type": "Zstd", "minContentLength": "1Ki"},
                                            {"type": "Gzip"}]},
                     targetRefs=[target("HTTPRoute", "api")]))
    found = entries(result)
    assert found["httproute/default/api/rule/0/match/0"].compression == (
        Compression("Zstd", 1024), Compression("Gzip"))
    assert found["httproute/default/web/rule/0/match/0"].compression == ()


def test_compressor_values_propylon_cannot_use_are_named() -> None:
    result = run(btp("zip", {"compressor": [{"type": "Gzip", "gzip": {"compressionLevel": 9}},
                                            {"type": "Gzip"}]},
                     targetRefs=[target("HTTPRoute", "web")]))
    message = conditions(result, "zip")["Accepted"]["message"]
    assert "spec.compressor[0].gzip: the gzip settings are not implemented" in message
    assert "spec.compressor[1].type: Gzip is listed twice" in message
    assert entries(result)["httproute/default/web/rule/0/match/0"].compression == ()


def test_client_settings_reach_the_port_of_the_listener_they_target() -> None:
    result = run(ctp("clients", {
        "clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["10.1.2.3/8"]}},
        "headers": {"earlyRequestHeaders": {"set": [{"name": "X-A", "value": "1"}],
                                            "removeOnMatch": [{"value": "x-b-.*",
                                                               "type": "RegularExpression"}]},
                    "withUnderscoresAction": "RejectRequest"}},
        targetRefs=[target("Gateway", "gw", "other")]))
    assert client_conditions(result, "clients")["Accepted"]["status"] == "True"
    assert listeners(result)[8080].client is None
    assert listeners(result)[8081].client == ClientSettings(
        trusted_cidrs=("10.0.0.0/8",),
        early_request_headers=HeaderMutation(set=(HeaderValue("x-a", "1"),),
                                             remove_on_match=(("RegularExpression", "x-b-.*"),)),
        underscores="RejectRequest")


def test_client_settings_propylon_cannot_use_are_named_and_not_applied() -> None:
    result = run(ctp("clients", {"clientIPDetection": {"xForwardedFor": {
        "numTrustedHops": 1, "trustedCIDRs": ["10.0.0.0/8"]}}},
        targetRefs=[target("Gateway", "gw")]))
    accepted = client_conditions(result, "clients")["Accepted"]
    assert accepted["status"] == "False"
    assert "numTrustedHops and trustedCIDRs exclude each other" in accepted["message"]
    assert all(li.client is None for li in listeners(result).values())
    result = run(ctp("clients", {"clientIPDetection": {"xForwardedFor": {
        "trustedCIDRs": ["10.0.0.300/8"]}}}, targetRefs=[target("Gateway", "gw")]))
    assert "trustedCIDRs[0]: '10.0.0.300/8' is not a CIDR" in \
        client_conditions(result, "clients")["Accepted"]["message"]


def test_protocol_and_tls_settings_and_their_refusals() -> None:
    result = run(ctp("clients", {
        "http2": {"initialStreamWindowSize": "1Mi", "maxConcurrentStreams": 10},
        "tls": {"minVersion": "1.2", "maxVersion": "1.3", "ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]},
        "tcpKeepalive": {"idleTime": "2m"}}, targetRefs=[target("Gateway", "gw")]))
    client = listeners(result)[8080].client
    assert client is not None and client.tls is not None
    assert (client.h2_stream_window, client.h2_max_streams, client.keepalive_idle_s) == \
        (1 << 20, 10, 120)
    assert (client.tls.min_version, client.tls.max_version, client.tls.ciphers) == \
        ("1.2", "1.3", ("ECDHE-RSA-AES128-GCM-SHA256",))
    result = run(ctp("clients", {
        "http2": {"initialStreamWindowSize": "1k"}, "tls": {"minVersion": "1.3", "maxVersion": "1.2"},
        "tcpKeepalive": {"interval": "10ms"}}, targetRefs=[target("Gateway", "gw")]))
    message = client_conditions(result, "clients")["Accepted"]["message"]
    for part in ("spec.http2.initialStreamWindowSize: '1k' is not a window size",
                 "spec.tls: minVersion 1.3 is above maxVersion 1.2",
                 "spec.tcpKeepalive.interval: '10ms' is not a duration of a second or more"):
        assert part in message
    assert all(li.client is None for li in listeners(result).values())


def test_a_regular_expression_envoy_would_refuse_is_named_and_not_sent() -> None:
    result = run(ctp("clients", {"headers": {"earlyRequestHeaders": {"removeOnMatch": [
        {"type": "RegularExpression", "value": "x-(?=secret)"}]}}},
        targetRefs=[target("Gateway", "gw")]))
    accepted = client_conditions(result, "clients")["Accepted"]
    assert accepted["status"] == "False"
    assert accepted["message"].startswith("spec.headers.earlyRequestHeaders.removeOnMatch[0]: ")
    assert all(li.client is None for li in listeners(result).values())
    result = run(btp("override", {"responseOverride": [{
        "match": {"responseHeaders": [{"name": "x-a", "value": {
            "type": "RegularExpression", "value": "(a"}}]},
        "response": {"statusCode": 500}}]}, targetRefs=[target("HTTPRoute", "web")]))
    assert "spec.responseOverride[0].match.responseHeaders[0].value: " in \
        conditions(result, "override")["Accepted"]["message"]
    assert entries(result)["httproute/default/web/rule/0/match/0"].response_overrides == ()
