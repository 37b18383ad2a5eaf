"""Envoy Gateway policy attachment: which BackendTrafficPolicy governs each route rule (rule >
route > listener > Gateway), what the IR gets from it, and every policy's `status.ancestors`
(Accepted, Overridden, Merged, Conflicted, Invalid with the field and the fix)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from propylon.ir.model import Cluster, GatewayKey, InfraState, PortState, Rejections, Route
from propylon.translate import translate
from propylon.translate.golden import snapshot_of
from propylon.translate.types import Result

KEY = GatewayKey("default", "gw")
GATEWAY_REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default",
               "name": "gw"}
CONTROLLER = "propylon.dev/gateway-controller"
API = "httproute/default/api/rule/0/match/0"  # the route entries of the routes `run` adds
WEB = "httproute/default/web/rule/0/match/0"


def route(name: str, rules: list[dict[str, Any]], section: str | None = None,
          labels: dict[str, str] | None = None) -> dict[str, Any]:
    parent = {"name": "gw", **({"sectionName": section} if section else {})}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default", "generation": 1,
                         "labels": labels or {}},
            "spec": {"parentRefs": [parent], "hostnames": [f"{name}.example"],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": p}}],
                                "backendRefs": [{"name": "app", "port": 80}],
                                **({"name": n} if n else {})} for n, p in rules]}}


def btp(name: str, spec: dict[str, Any], created: str = "2026-01-01T00:00:00Z",
        **targets: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 2,
                         "creationTimestamp": created},
            "spec": {**targets, **spec}}


def target(kind: str, name: str, section: str | None = None) -> dict[str, Any]:
    return {"group": "gateway.networking.k8s.io", "kind": kind, "name": name,
            **({"sectionName": section} if section else {})}


def run(*objects: dict[str, Any], controller: str = CONTROLLER,
        rejections: Rejections | None = None) -> Result:
    base = snapshot_of({"resources": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "propylon", "generation": 1},
         "spec": {"controllerName": controller}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": "default"},
         "spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.1"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default", "generation": 1},
         "spec": {"gatewayClassName": "propylon", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": 8080},
             {"name": "other", "protocol": "HTTP", "port": 8081}]}},
        route("web", [("a", "/a"), (None, "/b")]),
        route("api", [(None, "/")], section="other", labels={"tier": "api"}),
        *objects]})
    infra = InfraState(KEY, "127.0.0.1", (PortState(8080, 8080), PortState(8081, 8081)),
                       ready=True)
    return translate(replace(base, infra={KEY: infra},
                             rejections={KEY: rejections} if rejections else {}))


def clusters(result: Result) -> dict[str, Cluster]:
    return {c.name: c for c in result.gateways[KEY].clusters}


def entries(result: Result) -> dict[str, Route]:
    return {r.name: r for config in result.gateways[KEY].route_configs
            for vh in config.virtual_hosts for r in vh.routes}


def attempts(result: Result) -> dict[str, int | None]:
    """Retry attempts per route entry: web rule a, web rule 1, api."""
    found = entries(result)
    return {name: (found[entry].retry.attempts if found[entry].retry else None)
            for name, entry in (("web/a", WEB),
                                ("web/1", "httproute/default/web/rule/1/match/0"),
                                ("api", API))}


def ancestors(result: Result, name: str) -> list[dict[str, Any]]:
    [update] = [u for u in result.statuses
                if u.kind == "BackendTrafficPolicy" and u.name == name]
    return list(update.status.to_json()["ancestors"])


def conditions(result: Result, name: str, ref: dict[str, str] = GATEWAY_REF,
               ) -> dict[str, dict[str, Any]]:
    [entry] = [a for a in ancestors(result, name) if a["ancestorRef"] == ref]
    assert entry["controllerName"] == CONTROLLER
    return {c["type"]: c for c in entry["conditions"]}


def retry(n: int) -> dict[str, Any]:
    return {"retry": {"numRetries": n}}


def test_the_most_specific_policy_governs_each_rule() -> None:
    result = run(btp("gateway", retry(1), targetRefs=[target("Gateway", "gw")]),
                 btp("listener", retry(2), targetRefs=[target("Gateway", "gw", "other")]),
                 btp("route", retry(3), targetRefs=[target("HTTPRoute", "web")]),
                 btp("rule", retry(4), targetRefs=[target("HTTPRoute", "web", "a")]))
    assert attempts(result) == {"web/a": 4, "web/1": 3, "api": 2}
    gateway = conditions(result, "gateway")
    assert gateway["Accepted"]["status"] == "True"
    assert gateway["Overridden"]["message"] == (
        "This policy is being overridden by other backendTrafficPolicies for these listeners: "
        "[default/gw/other], these routes: [default/web]")
    assert conditions(result, "route")["Overridden"]["message"].endswith(
        "these route rules: [default/web/a]")
    assert conditions(result, "rule")["Accepted"]["reason"] == "Accepted"
    assert "Overridden" not in conditions(result, "rule")


def test_a_gateway_policy_alone_governs_every_route_and_is_not_overridden() -> None:
    result = run(btp("gateway", retry(1), targetRefs=[target("Gateway", "gw")]))
    assert attempts(result) == {"web/a": 1, "web/1": 1, "api": 1}
    cond = conditions(result, "gateway")
    assert (cond["Accepted"]["status"], cond["Accepted"]["message"],
            cond["Accepted"]["observedGeneration"]) == ("True", "Policy has been accepted.", 2)
    assert set(cond) == {"Accepted"}


def test_route_policy_ancestor_is_each_parent_gateway_as_the_route_names_it() -> None:
    result = run(btp("api", retry(1), targetRefs=[target("HTTPRoute", "api")]))
    [entry] = ancestors(result, "api")
    assert entry["ancestorRef"] == {**GATEWAY_REF, "sectionName": "other"}


def test_the_older_policy_wins_a_target_and_the_other_is_conflicted() -> None:
    result = run(btp("newer", retry(7), "2026-02-01T00:00:00Z",
                     targetRefs=[target("HTTPRoute", "web")]),
                 btp("older", retry(1), "2026-01-01T00:00:00Z",
                     targetRefs=[target("HTTPRoute", "web")]))
    assert attempts(result)["web/1"] == 1
    accepted = conditions(result, "newer")["Accepted"]
    assert (accepted["status"], accepted["reason"], accepted["message"]) == (
        "False", "Conflicted",
        "Unable to target HTTPRoute web, another BackendTrafficPolicy has already attached to it")


def test_an_unknown_section_name_is_invalid_names_the_field_and_has_no_effect() -> None:
    result = run(btp("bad", retry(3), targetRefs=[target("HTTPRoute", "web", "nope")]),
                 btp("listener", retry(3), targetRefs=[target("Gateway", "gw", "nope")]))
    assert attempts(result) == {"web/a": None, "web/1": None, "api": None}
    accepted = conditions(result, "bad")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"] == (
        'spec.targetRefs[0].sectionName: HTTPRoute default/web has no rule named "nope": name '
        "one of its rules (a) or remove sectionName")
    [entry] = ancestors(result, "listener")
    assert entry["ancestorRef"] == {**GATEWAY_REF, "sectionName": "nope"}
    assert "(http, other)" in entry["conditions"][0]["message"]


def test_an_unimplemented_field_is_reported_and_the_policy_not_applied() -> None:
    result = run(btp("cb", {**retry(3), "useClientProtocol": True},
                     targetRefs=[target("Gateway", "gw")]))
    assert attempts(result) == {"web/a": None, "web/1": None, "api": None}
    accepted = conditions(result, "cb")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"].startswith(
        "spec.useClientProtocol is not implemented by Propylon yet")


def test_an_unusable_value_names_the_field() -> None:
    result = run(btp("slow", {"timeout": {"http": {"requestTimeout": "soon"}}},
                     targetRefs=[target("Gateway", "gw")]))
    assert conditions(result, "slow")["Accepted"]["message"].startswith(
        "spec.timeout.http.requestTimeout: 'soon' is not a duration")


def test_policies_for_gateways_of_another_controller_get_no_entry_and_no_effect() -> None:
    result = run(btp("gateway", retry(1), targetRefs=[target("Gateway", "gw")]),
                 controller="example.com/other")
    assert KEY not in result.gateways
    assert ancestors(result, "gateway") == []  # clears entries this controller wrote before


def test_a_target_selector_picks_routes_by_label() -> None:
    result = run(btp("by-label", retry(5), targetSelectors=[
        {"kind": "HTTPRoute", "matchLabels": {"tier": "api"}}]))
    assert attempts(result) == {"web/a": None, "web/1": None, "api": 5}


def test_a_merging_route_policy_keeps_the_gateway_policy_fields_it_does_not_set() -> None:
    result = run(btp("gateway", {"timeout": {"http": {"requestTimeout": "2s"}}, **retry(1)},
                     targetRefs=[target("Gateway", "gw")]),
                 btp("route", {**retry(3), "mergeType": "StrategicMerge"},
                     targetRefs=[target("HTTPRoute", "web")]))
    found = entries(result)["httproute/default/web/rule/1/match/0"]
    assert (found.retry.attempts if found.retry else None, found.timeout_ms) == (3, 2000)
    assert conditions(result, "route")["Merged"]["message"] == "Merged with policy default/gateway"
    gateway = conditions(result, "gateway")
    assert gateway["Merged"]["message"].endswith("these routes: [default/web]")
    assert "Overridden" not in gateway


def test_retry_and_timeouts_reach_the_route_and_a_copy_of_its_cluster() -> None:
    result = run(btp("retry", {
        "retry": {"numRetries": 5, "retryOn": {"httpStatusCodes": [500],
                                               "triggers": ["connect-failure"]},
                  "perRetry": {"timeout": "250ms",
                               "backOff": {"baseInterval": "100ms", "maxInterval": "10s"}}},
        "timeout": {"http": {"requestTimeout": "2s", "connectionIdleTimeout": "1m"},
                    "tcp": {"connectTimeout": "3s"}}},
        targetRefs=[target("HTTPRoute", "api")]))
    found = entries(result)
    api = found[API]
    assert api.retry is not None
    assert (api.retry.attempts, api.retry.codes, api.retry.on, api.retry.per_try_timeout_ms,
            api.retry.backoff_ms, api.retry.backoff_max_ms, api.timeout_ms) == (
        5, (500,), ("connect-failure",), 250, 100, 10_000, 2000)
    found_clusters = clusters(result)
    [backend] = api.backends
    assert backend.cluster == "default/app/80/default/retry"
    copy = found_clusters["default/app/80/default/retry"]
    assert copy.connection is not None
    assert (copy.connection.connect_timeout_ms, copy.connection.idle_timeout_ms) == (3000, 60_000)
    web = found[WEB]
    assert [b.cluster for b in web.backends] == ["default/app/80"]
    assert found_clusters["default/app/80"].connection is None


def test_retry_defaults_are_envoy_gateways() -> None:
    result = run(btp("retry", {"retry": {}}, targetRefs=[target("HTTPRoute", "api")]))
    api = entries(result)[API]
    assert api.retry is not None
    assert (api.retry.attempts, api.retry.codes, api.retry.on) == (
        2, (503,), ("connect-failure", "refused-stream", "unavailable", "cancelled",
                    "retriable-status-codes"))


def test_a_security_policy_gives_its_routes_cors() -> None:
    result = run({"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
                  "metadata": {"name": "cors", "namespace": "default", "generation": 1},
                  "spec": {"targetRefs": [target("HTTPRoute", "web")],
                           "cors": {"allowOrigins": ["https://*.foo.com"],
                                    "allowMethods": ["GET"], "exposeHeaders": ["x-a"]}}})
    found = entries(result)
    web = found["httproute/default/web/rule/1/match/0"].cors
    assert web is not None
    assert (web.allow_origins, web.allow_methods, web.expose_headers, web.max_age_s) == (
        ("https://*.foo.com",), ("GET",), ("x-a",), 5)
    assert found[API].cors is None
    [update] = [u for u in result.statuses if u.kind == "SecurityPolicy"]
    [entry] = update.status.to_json()["ancestors"]
    assert entry["conditions"][0]["status"] == "True"


def test_an_envoy_extension_policy_says_what_it_does_not_do() -> None:
    result = run({"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
                  "metadata": {"name": "wasm", "namespace": "default", "generation": 1},
                  "spec": {"targetRefs": [target("Gateway", "gw")],
                           "wasm": [{"name": "w", "code": {"type": "HTTP"}}]}})
    [update] = [u for u in result.statuses if u.kind == "EnvoyExtensionPolicy"]
    [entry] = update.status.to_json()["ancestors"]
    accepted = entry["conditions"][0]
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"].startswith("spec.wasm is not implemented by Propylon yet")


def test_fault_injection_reaches_the_route() -> None:
    result = run(btp("fault", {"faultInjection": {"delay": {"fixedDelay": "2s"},
                                                  "abort": {"httpStatus": 501,
                                                            "percentage": 50}}},
                     targetRefs=[target("HTTPRoute", "api")]))
    fault = entries(result)[API].fault
    assert fault is not None
    assert (fault.delay_ms, fault.delay_percent, fault.abort_status, fault.abort_percent) == (
        2000, 100.0, 501, 50.0)


def sp(name: str, spec: dict[str, Any], **targets: Any) -> dict[str, Any]:
    return {**btp(name, spec, **targets), "kind": "SecurityPolicy"}


def test_ext_auth_of_a_merged_policy_is_the_parents_service_and_its_cluster_is_added() -> None:
    result = run(sp("gateway-auth", {"extAuth": {"http": {"backendRef": {"name": "app",
                                                                           "port": 80}}}},
                    targetRefs=[target("Gateway", "gw")]),
                 sp("web-cors", {"mergeType": "JSONMerge",
                                 "cors": {"allowOrigins": ["https://a.example"]}},
                    targetRefs=[target("HTTPRoute", "web")]))
    found = entries(result)
    web, api = (found[f"httproute/default/{r}/rule/0/match/0"].ext_auth for r in ("web", "api"))
    assert web is not None and web == api
    assert (web.name, web.cluster) == ("securitypolicy/default/gateway-auth",
                                       "extauth/default/app/80")
    assert found[WEB].cors is not None
    gateway = result.gateways[KEY]
    assert "extauth/default/app/80" in {c.name for c in gateway.clusters}


def test_request_buffer_limit_reaches_the_route_and_a_bad_one_is_refused() -> None:
    result = run(btp("upload", {"requestBuffer": {"limit": "8Mi"}},
                     targetRefs=[target("HTTPRoute", "api")]),
                 btp("broken", {"requestBuffer": {"limit": "8 megs"}},
                     targetRefs=[target("HTTPRoute", "web")]))
    found = entries(result)
    assert (found[API].request_body_limit, found[WEB].request_body_limit) == (8 * 1024**2, None)
    [update] = [u for u in result.statuses if u.kind == "BackendTrafficPolicy"
                and u.name == "broken"]
    accepted = update.status.to_json()["ancestors"][0]["conditions"][0]
    assert accepted["status"] == "False"
    assert "spec.requestBuffer.limit" in accepted["message"]
