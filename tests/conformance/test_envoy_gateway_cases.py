"""Envoy Gateway's cases through the runner: the pure parts (metric queries and conditions,
policy status entries, the suite a case folder is) and real runs of cases through standalone
Propylon, real Envoy and echo processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from propylon.cli.conformance import EG_GATEWAY_CLASS, suite_of
from propylon.conformance import metrics
from propylon.conformance.status import check
from tests.shared_data import shared

CONTROLLER = "propylon.dev/gateway-controller"
ANCESTOR = {"group": "gateway.networking.k8s.io", "kind": "Gateway",
            "namespace": "gateway-conformance-infra", "name": "same-namespace"}


def test_a_folder_beside_e2e_is_envoy_gateways_suite() -> None:
    cases = shared("envoy-gateway", "cases")
    suite = suite_of(cases, CONTROLLER)
    assert (suite.manifests_root, suite.gateway_class, suite.retry_wait_s) == (
        cases.parent / "e2e", EG_GATEWAY_CLASS, 1.0)
    assert CONTROLLER in suite.note
    # Envoy Gateway's CI install: the class with its EnvoyProxy, made Propylon's
    kinds = {o["kind"]: o for o in suite.install}
    assert kinds["GatewayClass"]["spec"] == {"controllerName": CONTROLLER, "parametersRef": {
        "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "proxy-config",
        "namespace": "envoy-gateway-system"}}
    assert kinds["EnvoyProxy"]["metadata"] == {"name": "proxy-config",
                                               "namespace": "envoy-gateway-system"}
    gateway_api = suite_of(shared("conformance", "cases"), CONTROLLER)
    assert gateway_api.gateway_class == "gateway-conformance" and not gateway_api.install


def test_metric_queries_name_the_route_rule_clusters() -> None:
    family, stat, labels = metrics.parse('envoy_cluster_upstream_rq_retry{envoy_cluster_name='
                                         '"httproute/ns1/retry-route/rule/0"}')
    assert (family, stat) == ("cluster", "upstream_rq_retry")
    assert metrics.eg_route_rule(labels["envoy_cluster_name"]) == (
        "HTTPRoute", "ns1", "retry-route", 0)
    route = {"metadata": {"namespace": "ns1"}, "spec": {"rules": [{"backendRefs": [
        {"name": "a", "port": 8080}, {"name": "b", "namespace": "ns2", "port": 80},
        {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": "c"}]}]}}
    assert metrics.rule_clusters(route, 0) == ["ns1/a/8080", "ns2/b/80"]
    assert metrics.rule_clusters(route, 1) == []
    assert metrics.parse('envoy_connection_limit_limited_connections{x="y"}') == (
        "connection_limit", "limited_connections", {"x": "y"})
    with pytest.raises(metrics.Unsupported):
        metrics.parse('envoy_http_downstream_rq_total{x="y"}')
    assert metrics.parse('envoy_cluster_upstream_rq_retry_overflow{x="y"}') == (
        "cluster", "upstream_rq_retry_overflow", {"x": "y"})


def test_metric_conditions() -> None:
    condition = "delta = value - retryBaseline; delta > 0 and delta % 5 == 0"
    assert metrics.evaluate(condition, {"value": 17, "retryBaseline": 2})
    assert not metrics.evaluate(condition, {"value": 16, "retryBaseline": 2})
    assert not metrics.evaluate(condition, {"value": 2, "retryBaseline": 2})
    assert metrics.evaluate("value > 0", {"value": 1})
    with pytest.raises(metrics.Unsupported):
        metrics.evaluate("__import__('os')", {})
    with pytest.raises(metrics.Unsupported):
        metrics.evaluate("value > 0", {})


def policy(ancestors: list[dict]) -> dict:
    return {"kind": "BackendTrafficPolicy", "metadata": {"generation": 1},
            "status": {"ancestors": ancestors}}


def entry(conditions: dict) -> dict:
    return {"kind": "BackendTrafficPolicy", "namespace": "gateway-conformance-infra",
            "name": "p", "ancestor": ANCESTOR, "conditions": conditions}


def test_a_policy_entry_needs_our_ancestor_exactly_with_the_conditions() -> None:
    ours = {"ancestorRef": ANCESTOR, "controllerName": CONTROLLER,
            "conditions": [{"type": "Accepted", "status": "True", "message": "ok"}]}
    assert check(entry({"Accepted": "True"}), policy([ours]), CONTROLLER) is None
    assert check(entry({"Merged": "True"}), policy([ours]), CONTROLLER) is not None
    other = {**ours, "controllerName": "example.com/other"}
    assert check(entry({"Accepted": "True"}), policy([other]), CONTROLLER) is not None
    listener = {**ours, "ancestorRef": {**ANCESTOR, "sectionName": "http"}}
    assert check(entry({"Accepted": "True"}), policy([listener]), CONTROLLER) is not None
    refused = {**ours, "conditions": [{"type": "Accepted", "status": "False",
                                       "message": "spec.x is not implemented"}]}
    wanted = {"Accepted": {"status": "False", "messageContains": "not implemented"}}
    assert check(entry(wanted), policy([refused]), CONTROLLER) is None


def run_cases(tmp_path: Path, names: str) -> None:
    """Runs Envoy Gateway's cases `names` (comma-separated) and asserts that each passed."""
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance",
         "--cases", str(shared("envoy-gateway", "cases")), "--run", names,
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"{len(names.split(','))} passed, 0 failed"


def test_retry_and_timeout_cases_pass(tmp_path: Path) -> None:
    run_cases(tmp_path, "Retry,BTPTimeout")


def test_jwt_and_authorization_cases_pass(tmp_path: Path) -> None:
    """JWT fetches its JWKS from the static-file-server the runner starts; LocalJWKSValueRef
    reads it from a ConfigMap; AuthzWithHTTPMethodAndHeader authorizes by header and method."""
    cases = "JWT,LocalJWKSValueRef,AuthzWithHTTPMethodAndHeader"
    run_cases(tmp_path, cases)


def test_basic_auth_and_api_key_auth_cases_pass(tmp_path: Path) -> None:
    """Their users and keys are Opaque Secrets the controller reads because the policies name
    them."""
    run_cases(tmp_path, "BasicAuth,APIKeyAuth")


def test_http_ext_auth_case_passes(tmp_path: Path) -> None:
    """SecurityPolicy extAuth against Envoy Gateway's ext-auth service, which the runner starts
    as the echo backend's ext-auth mode and waits for (the case's `kind: Pods` entry)."""
    run_cases(tmp_path, "HTTPExtAuth")


def test_client_traffic_compression_and_response_cases_pass(tmp_path: Path) -> None:
    """Header settings and X-Forwarded-For hops (ClientTrafficPolicy), compression and
    response overrides (BackendTrafficPolicy), and an HTTPRouteFilter's direct response."""
    cases = ("HeaderSettings,AuthzWithClientIP,Compression,ResponseOverrideSpecificUser,"
             "DirectResponse")
    run_cases(tmp_path, cases)


def test_access_log_cases_pass(tmp_path: Path) -> None:
    """Access logs of the class's EnvoyProxy on the Gateway's Envoy stdout (route, listener
    and upstream logs, the route's annotation printed from its metadata), records sent over
    OTLP (text and JSON) and ALS to the log collector the runner starts, and health-check
    events on stdout."""
    run_cases(tmp_path, "FileAccessLog,ALS,OpenTelemetryTextAccessLog,"
                        "OpenTelemetryAccessLogJSON,BackendHealthCheckEventLog")
