"""What Envoy refused (`Snapshot.rejections`) in the status of the objects that produced it: a
certificate Secret on its listeners, a listener on the Gateway listeners of its port, route
entries on their route (PartiallyInvalid or Accepted False, per parent Gateway), a cluster on
the routes using it. Without rejections the status is what it was."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from propylon.conformance.tlsmaterial import issue, tls_secret
from propylon.ir.model import GatewayKey, InfraState, PortState, Rejections
from propylon.translate import translate
from propylon.translate.golden import snapshot_of
from propylon.translate.types import Snapshot

KEY = GatewayKey("default", "gw")
PAIR = issue("app.example", ("app.example",))


def snapshot(rejections: Rejections | None, *more_rules: dict[str, Any]) -> Snapshot:
    """The world of these tests; `more_rules` are added to the route "two"."""
    def rule(path: str, service: str = "app") -> dict[str, Any]:
        return {"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                "backendRefs": [{"name": service, "port": 80}]}

    base = snapshot_of({"resources": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "propylon", "generation": 1},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        tls_secret("default", "cert", PAIR),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "app", "namespace": "default"},
         "spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.1"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default", "generation": 1},
         "spec": {"gatewayClassName": "propylon", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": 8080},
             {"name": "https", "protocol": "HTTPS", "port": 8443,
              "tls": {"certificateRefs": [{"name": "cert"}]}}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "two", "namespace": "default", "generation": 3},
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [rule("/a"), rule("/b"), *more_rules]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "one", "namespace": "default", "generation": 1},
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [rule("/c")]}}]})
    infra = InfraState(KEY, "127.0.0.1", (PortState(8080, 8080), PortState(8443, 8443)),
                       ready=True)
    return replace(base, infra={KEY: infra},
                   rejections={KEY: rejections} if rejections is not None else {})


def statuses(rejections: Rejections | None) -> dict[tuple[str, str], dict[str, Any]]:
    return {(u.kind, u.name): u.status.to_json() for u in translate(snapshot(rejections)).statuses}


def route_conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [parent] = status["parents"]
    return {c["type"]: c for c in parent["conditions"]}


def listener_conditions(status: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    [listener] = [li for li in status["listeners"] if li["name"] == name]
    return {c["type"]: c for c in listener["conditions"]}


def test_no_rejection_changes_nothing() -> None:
    assert statuses(None) == statuses(Rejections())


def test_a_dropped_rule_is_partially_invalid_and_a_route_with_none_left_not_accepted() -> None:
    out = statuses(Rejections(routes={
        "httproute/default/two/rule/1/match/0": "invalid perl operator: (?<=",
        "httproute/default/one/rule/0/match/0": "invalid escape sequence: \\1"}))
    two = route_conditions(out[("HTTPRoute", "two")])
    assert two["Accepted"]["status"] == "True"
    assert (two["PartiallyInvalid"]["status"], two["PartiallyInvalid"]["reason"]) == (
        "True", "UnsupportedValue")
    assert two["PartiallyInvalid"]["message"].startswith("Dropped Rule(s) 1: ")
    assert "invalid perl operator: (?<=" in two["PartiallyInvalid"]["message"]
    assert two["PartiallyInvalid"]["observedGeneration"] == 3
    one = route_conditions(out[("HTTPRoute", "one")])
    assert (one["Accepted"]["status"], one["Accepted"]["reason"]) == ("False", "UnsupportedValue")
    assert "invalid escape sequence" in one["Accepted"]["message"]
    assert "PartiallyInvalid" not in one


def test_a_refused_cluster_is_the_routes_unresolved_reference() -> None:
    out = statuses(Rejections(clusters={"default/app/80": "some refusal"}))
    for name in ("one", "two"):
        refs = route_conditions(out[("HTTPRoute", name)])["ResolvedRefs"]
        assert refs["status"] == "False" and "some refusal" in refs["message"]


def test_a_refused_secret_is_an_invalid_certificate_ref_of_its_listeners() -> None:
    out = statuses(Rejections(secrets={"default/cert": "KEY_VALUES_MISMATCH"}))
    https = listener_conditions(out[("Gateway", "gw")], "https")
    assert (https["ResolvedRefs"]["status"], https["ResolvedRefs"]["reason"]) == (
        "False", "InvalidCertificateRef")
    assert "KEY_VALUES_MISMATCH" in https["ResolvedRefs"]["message"]
    assert https["Programmed"]["status"] == "False"
    assert listener_conditions(out[("Gateway", "gw")], "http")["Programmed"]["status"] == "True"


def test_a_refused_listener_is_not_programmed() -> None:
    out = statuses(Rejections(listeners={"default/gw/8080": "cannot bind"}))
    http = listener_conditions(out[("Gateway", "gw")], "http")
    assert http["Programmed"]["status"] == "False" and "cannot bind" in http["Programmed"][
        "message"]
    assert listener_conditions(out[("Gateway", "gw")], "https")["Programmed"]["status"] == "True"


def test_envoy_refusals_add_to_the_rules_translation_dropped() -> None:
    regex = {"matches": [{"path": {"type": "RegularExpression", "value": "/(?<=x)y"}}],
             "backendRefs": [{"name": "app", "port": 80}]}
    rejected = Rejections(routes={"httproute/default/two/rule/1/match/0": "Envoy's own reason"})
    out = {(u.kind, u.name): u.status.to_json()
           for u in translate(snapshot(rejected, regex)).statuses}
    message = route_conditions(out[("HTTPRoute", "two")])["PartiallyInvalid"]["message"]
    assert "spec.rules[2].matches[0].path.value" in message  # dropped by translation
    assert "Dropped Rule(s) 1: Envoy refused rule 1: Envoy's own reason" in message
