"""Regular expressions Envoy would refuse: only the rule holding one is left out.

Envoy refuses a whole virtual host for one regex RE2 cannot compile, or whose RE2 program is
over its limit (100), so such a rule is dropped: the route's other rules stay served and the
route says PartiallyInvalid with the field, RE2's error and the fix; a route with no valid rule
left is not Accepted. Regexes Python's `re` refuses but RE2 takes are served.
"""

from __future__ import annotations

from typing import Any

import pytest

from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.golden import snapshot_of

KEY = GatewayKey("default", "gw")
GATEWAY_API = "gateway.networking.k8s.io/v1"
LONG_METHOD = "M" + "x" * 120  # an Exact method alone becomes the regex /[^/]+/<method>
# an allowed origin becomes a regex (^https://.*\.abcdefghij...): too long after the wildcard
LONG_ORIGIN = "https://*." + ".".join(["abcdefghij"] * 8) + ".example.com"


def _objects(kind: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": GATEWAY_API, "kind": "GatewayClass", "metadata": {"name": "propylon"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": GATEWAY_API, "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default", "generation": 1},
         "spec": {"gatewayClassName": "propylon",
                  "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "default"},
         "spec": {"ports": [{"port": 8080}]}},
        {"apiVersion": GATEWAY_API, "kind": kind,
         "metadata": {"name": "r", "namespace": "default", "generation": 3,
                      "creationTimestamp": "2024-01-01T00:00:00Z"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["app.example.com"],
                  "rules": rules}},
        # another route on the same hostname: it must keep being served whatever `r` holds
        {"apiVersion": GATEWAY_API, "kind": "HTTPRoute",
         "metadata": {"name": "other", "namespace": "default", "generation": 1,
                      "creationTimestamp": "2024-01-02T00:00:00Z"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["app.example.com"],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/other"}}],
                             "backendRefs": [{"name": "svc", "port": 8080}]}]}},
    ]


def _translate(kind: str, rules: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The conditions of route `r` (by type) and the names of the IR routes served."""
    snapshot = snapshot_of({"resources": _objects(kind, rules)})
    snapshot = type(snapshot)(snapshot.objects,
                              {KEY: InfraState(KEY, "127.0.0.1", (PortState(80, 80),), True)},
                              snapshot.controller_name, snapshot.now)
    result = translate(snapshot)
    status = next(u.status.to_json() for u in result.statuses if u.kind == kind and u.name == "r")
    conds = {c["type"]: c for c in status["parents"][0]["conditions"]}
    served = [r.name for table in result.gateways[KEY].route_configs
              for vh in table.virtual_hosts for r in vh.routes]
    return conds, served


def _http_rules(bad_match: dict[str, Any]) -> list[dict[str, Any]]:
    good = {"matches": [{"path": {"type": "PathPrefix", "value": "/good"}}],
            "backendRefs": [{"name": "svc", "port": 8080}]}
    bad = {"name": "bad", "matches": [{"path": {"type": "PathPrefix", "value": "/x"}}, bad_match],
           "backendRefs": [{"name": "svc", "port": 8080}]}
    return [good, bad]


# (kind, rules whose rule 1 Envoy would refuse, field path, words of RE2's verdict)
REFUSED = {
    "lookbehind in a path": (
        "HTTPRoute", _http_rules({"path": {"type": "RegularExpression", "value": "/(?<=bar)x"}}),
        "spec.rules[1].matches[1].path.value", "invalid perl operator: (?<="),
    "backreference in a header": (
        "HTTPRoute", _http_rules({"headers": [
            {"name": "a", "value": "b"},
            {"type": "RegularExpression", "name": "x-v", "value": r"(a)\1"}]}),
        "spec.rules[1].matches[1].headers[1].value", r"invalid escape sequence: \1"),
    "program too large in a query parameter": (
        "HTTPRoute", _http_rules({"queryParams": [
            {"type": "RegularExpression", "name": "q", "value": r"\w" * 60}]}),
        "spec.rules[1].matches[1].queryParams[0].value", "RE2 program size 184, at most 100"),
    "escape beyond Latin-1, which Envoy's RE2 parses": (
        "HTTPRoute", _http_rules({"path": {"type": "RegularExpression", "value": r"/\x{100}"}}),
        "spec.rules[1].matches[1].path.value", r"invalid escape sequence: \x{100"),
    "CORS allowed origin": (
        "HTTPRoute", [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/good"}}],
             "backendRefs": [{"name": "svc", "port": 8080}]},
            {"name": "bad", "backendRefs": [{"name": "svc", "port": 8080, "filters": [
                {"type": "CORS", "cors": {"allowOrigins": ["https://ok.example.com", LONG_ORIGIN]}}]}]}],
        "spec.rules[1].backendRefs[0].filters[0].cors.allowOrigins[1]", "RE2 program size"),
    "GRPCRoute method regex": (
        "GRPCRoute", [
            {"matches": [{"method": {"service": "ok.Service"}}],
             "backendRefs": [{"name": "svc", "port": 8080}]},
            {"matches": [{"method": {"type": "RegularExpression", "service": "a(?!b)"}}],
             "backendRefs": [{"name": "svc", "port": 8080}]}],
        "spec.rules[1].matches[0].method", "invalid perl operator: (?!"),
    "GRPCRoute exact method alone, too long for Envoy's limit": (
        "GRPCRoute", [
            {"matches": [{"method": {"service": "ok.Service"}}],
             "backendRefs": [{"name": "svc", "port": 8080}]},
            {"matches": [{"method": {"method": LONG_METHOD}}],
             "backendRefs": [{"name": "svc", "port": 8080}]}],
        "spec.rules[1].matches[0].method", "RE2 program size"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_rule_with_a_refused_regex_is_dropped_and_the_rest_served(case: str) -> None:
    kind, rules, field, verdict = REFUSED[case]
    conds, served = _translate(kind, rules)
    assert (conds["Accepted"]["status"], conds["Accepted"]["reason"]) == ("True", "Accepted")
    partial = conds["PartiallyInvalid"]
    assert (partial["status"], partial["reason"]) == ("True", "UnsupportedValue")
    assert partial["message"].startswith("Dropped Rule")
    label = 'rule 1 ("bad")' if kind == "HTTPRoute" else "rule 1"
    assert f"{label}: {field}: " in partial["message"]
    assert verdict in partial["message"]
    assert partial["observedGeneration"] == 3
    prefix = kind.lower()
    assert f"{prefix}/default/r/rule/0/match/0" in served
    assert not [n for n in served if n.startswith(f"{prefix}/default/r/rule/1/")]
    assert "httproute/default/other/rule/0/match/0" in served


def test_route_whose_every_rule_is_refused_is_not_accepted() -> None:
    rules = [{"matches": [{"path": {"type": "RegularExpression", "value": "/(?<=a)b"}}],
              "backendRefs": [{"name": "svc", "port": 8080}]}]
    conds, served = _translate("HTTPRoute", rules)
    assert (conds["Accepted"]["status"], conds["Accepted"]["reason"]) == (
        "False", "UnsupportedValue")
    assert "spec.rules[0].matches[0].path.value" in conds["Accepted"]["message"]
    assert "PartiallyInvalid" not in conds
    assert not [n for n in served if n.startswith("httproute/default/r/")]
    assert "httproute/default/other/rule/0/match/0" in served


@pytest.mark.parametrize("regex", [r"/\pL+", r"/[^/]+/\pN{3}", r"/caf\C", "/(?i)k" * 5])
def test_regex_re2_takes_is_served_without_condition(regex: str) -> None:
    """RE2 syntax Python's `re` refuses (\\pL, \\C), and Unicode classes whose UTF-8 program
    would be over 100 but which Envoy's RE2 takes."""
    rules = [{"matches": [{"path": {"type": "RegularExpression", "value": regex}}],
              "backendRefs": [{"name": "svc", "port": 8080}]}]
    conds, served = _translate("HTTPRoute", rules)
    assert conds["Accepted"]["status"] == "True"
    assert "PartiallyInvalid" not in conds
    assert "httproute/default/r/rule/0/match/0" in served
