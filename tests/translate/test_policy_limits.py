"""Limits of Envoy Gateway policies in the IR: circuit breakers and health checks on a copy of
the governed route's cluster (others keep the shared one), local rate limits on the governed
route entries, a
ClientTrafficPolicy's connection limit and rate-limit headers on the ports it governs, and what
is refused with its reason (a Global rate limit, shadow mode on some rules only, bad values)."""

from __future__ import annotations

from typing import Any

from propylon.ir import limits
from propylon.ir.model import Listener
from propylon.translate.types import Result
from tests.translate.test_policies import (
    API,
    GATEWAY_REF,
    KEY,
    WEB,
    btp,
    clusters,
    conditions,
    entries,
    run,
    target,
)

WEB_1 = "httproute/default/web/rule/1/match/0"
OTHER = {**GATEWAY_REF, "sectionName": "other"}  # api's parent, as api names it


def ctp(name: str, spec: dict[str, Any], section: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "ClientTrafficPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRefs": [target("Gateway", "gw", section)], **spec}}


def listeners(result: Result) -> dict[int, Listener]:
    return {li.port: li for li in result.gateways[KEY].listeners}


def local(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rateLimit": {"type": "Local", "local": {"rules": list(rules)}}}


def test_circuit_breaker_and_health_checks_go_to_a_copy_of_the_route_cluster() -> None:
    result = run(btp("limits", {
        "circuitBreaker": {"maxConnections": 0, "maxRequestsPerConnection": 1,
                           "retryBudget": {"percent": {"numerator": 1, "denominator": 2}}},
        "healthCheck": {"active": {"type": "HTTP", "http": {"path": "/healthz"}},
                        "passive": {}, "panicThreshold": 0}},
        targetRefs=[target("HTTPRoute", "api")]))
    found = entries(result)
    [backend] = found[API].backends
    copy = clusters(result)[str(backend.cluster)]
    assert copy.connection is not None
    assert copy.connection.circuit_breaker == limits.CircuitBreaker(
        max_connections=0, max_requests_per_connection=1, retry_budget_percent=50.0)
    health = copy.connection.health_check
    assert health is not None and health.active is not None
    assert (health.active.path, health.active.interval_ms, health.active.timeout_ms,
            health.active.unhealthy_threshold) == ("/healthz", 3000, 1000, 3)
    assert health.passive == limits.PassiveHealthCheck()  # Envoy Gateway's defaults
    assert health.panic_threshold == 0
    assert [b.cluster for b in found[WEB].backends] == ["default/app/80"]
    assert clusters(result)["default/app/80"].connection is None


def test_a_grpc_health_check_makes_the_copy_speak_http2() -> None:
    result = run(btp("grpc", {"healthCheck": {"active": {"type": "GRPC"}}},
                     targetRefs=[target("HTTPRoute", "api")]))
    [backend] = entries(result)[API].backends
    assert clusters(result)[str(backend.cluster)].protocol == "h2c"


def test_a_local_rate_limit_reaches_its_routes_only() -> None:
    result = run(btp("limited", local(
        {"limit": {"requests": 10, "unit": "Minute"}},
        {"clientSelectors": [{"headers": [{"name": "X-User", "value": "john"}],
                              "methods": [{"value": "GET"}],
                              "sourceCIDR": {"type": "Distinct", "value": "10.0.0.0/8"}}],
         "limit": {"requests": 3, "unit": "Hour"}}),
        targetRefs=[target("HTTPRoute", "api")]))
    assert conditions(result, "limited", OTHER)["Accepted"]["status"] == "True"
    limit = entries(result)[API].rate_limit
    assert limit is not None
    assert limit.default == limits.TokenBucket(10, 60)
    [rule] = limit.rules
    assert rule.matches == (limits.RateLimitMatch("header", "x-user", "Exact", "john"),)
    assert rule.methods == (limits.RateLimitMatch("method", ":method", "Exact", "GET"),)
    assert (rule.source_cidr, rule.cidr_distinct, rule.bucket) == (
        "10.0.0.0/8", True, limits.TokenBucket(3, 3600))
    assert (limit.shadow, limit.headers) == (False, True)
    assert entries(result)[WEB].rate_limit is None


def test_without_a_default_rule_other_requests_are_unlimited_and_shadow_mode_counts_only() -> None:
    result = run(btp("shadow", local(
        {"clientSelectors": [{"path": {"value": "/x"}}], "limit": {"requests": 1,
                                                                  "unit": "Second"},
         "shadowMode": True}), targetRefs=[target("HTTPRoute", "api")]))
    limit = entries(result)[API].rate_limit
    assert limit is not None
    assert limit.default == limits.TokenBucket(2**32 - 1, 1)
    assert limit.shadow


def test_rate_limit_headers_are_turned_off_on_the_port_a_client_policy_says() -> None:
    result = run(btp("limited", local({"limit": {"requests": 1, "unit": "Hour"}}),
                     targetRefs=[target("Gateway", "gw")]),
                 ctp("quiet", {"headers": {"disableRateLimitHeaders": True}}, section="other"))
    headers = {(config.name, route.name): route.rate_limit.headers
               for config in result.gateways[KEY].route_configs
               for vh in config.virtual_hosts for route in vh.routes if route.rate_limit}
    assert headers == {("default/gw/8080", WEB): True, ("default/gw/8080", WEB_1): True,
                       ("default/gw/8081", WEB): False, ("default/gw/8081", WEB_1): False,
                       ("default/gw/8081", API): False}


def test_a_connection_limit_reaches_the_ports_of_the_gateway() -> None:
    result = run(ctp("connections", {"connection": {
        "connectionLimit": {"value": 5, "closeDelay": "2s"}, "maxAcceptPerSocketEvent": 0,
        "bufferLimit": "64Ki"}}))
    assert {port: li.connection_limit for port, li in listeners(result).items()} == {
        8080: limits.ConnectionLimit(5, 2000, None, 65536),
        8081: limits.ConnectionLimit(5, 2000, None, 65536)}


def test_a_buffer_limit_that_is_no_size_is_refused_naming_the_field() -> None:
    result = run(ctp("buffers", {"connection": {"bufferLimit": "0"}}))
    [update] = [u for u in result.statuses if u.kind == "ClientTrafficPolicy"]
    [accepted] = [c for a in update.status.to_json()["ancestors"] for c in a["conditions"]]
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"].startswith("spec.connection.bufferLimit: '0' is not a size in "
                                          "bytes Envoy takes: write a quantity such as 32Ki")
    assert all(li.connection_limit is None for li in listeners(result).values())


def test_a_global_rate_limit_is_refused_for_want_of_a_rate_limit_service() -> None:
    result = run(btp("global", {"rateLimit": {"type": "Global", "global": {"rules": [
        {"limit": {"requests": 1, "unit": "Second"}}]}}}, targetRefs=[target("Gateway", "gw")]))
    accepted = conditions(result, "global")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"] == (
        "spec.rateLimit.global: a Global rate limit needs a rate-limit service, which Propylon "
        "does not provide: use type Local with spec.rateLimit.local")
    assert entries(result)[WEB].rate_limit is None


def test_what_cannot_be_done_is_named() -> None:
    result = run(btp("mixed", local(
        {"limit": {"requests": 1, "unit": "Hour"}, "shadowMode": True},
        {"clientSelectors": [{"headers": [{"name": "a", "value": "b"}]}],
         "limit": {"requests": 1, "unit": "Fortnight"}, "cost": {}}),
        targetRefs=[target("HTTPRoute", "api")]))
    message = conditions(result, "mixed", OTHER)["Accepted"]["message"]
    assert "spec.rateLimit.local.rules[1].cost is not implemented" in message
    assert "spec.rateLimit.local.rules[1].limit.unit: 'Fortnight' is not a rate-limit unit" \
        in message
    assert entries(result)[API].rate_limit is None
    result = run(btp("mixed", local(
        {"limit": {"requests": 1, "unit": "Hour"}, "shadowMode": True},
        {"clientSelectors": [{"headers": [{"name": "a", "value": "b"}]}],
         "limit": {"requests": 1, "unit": "Hour"}}), targetRefs=[target("HTTPRoute", "api")]))
    assert conditions(result, "mixed", OTHER)["Accepted"]["message"].startswith(
        "spec.rateLimit.local.rules[].shadowMode: Propylon applies shadow mode to a whole policy")
    result = run(btp("check", {"healthCheck": {"active": {"type": "HTTP"}}},
                     targetRefs=[target("HTTPRoute", "api")]))
    assert conditions(result, "check", OTHER)["Accepted"]["message"].startswith(
        "spec.healthCheck.active.http.path: an HTTP health check needs the path to probe")
