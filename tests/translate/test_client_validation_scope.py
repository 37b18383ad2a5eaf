"""A ClientTrafficPolicy's `tls.clientValidation` checks the clients of the HTTPS listener it
targets (`sectionName`), or of every HTTPS listener of the Gateway without a policy of its own,
even when listeners with other policies share the port (each is its own SNI filter chain); and
a client that did TLS with another listener's SNI name cannot reach the routes of a validated
listener by its Host header (421)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from propylon.ir.model import InfraState, PortState
from propylon.translate import translate
from propylon.translate.gatewayir import MISDIRECTED
from propylon.translate.golden import snapshot_of
from propylon.translate.types import Result
from tests.translate.test_client_policies import ctp
from tests.translate.test_policies import KEY, route, target

CASE = Path(__file__).parent / "testdata" / "client-validation.in.yaml"
VALIDATION = {"tls": {"clientValidation": {"caCertificateRefs": [{"kind": "ConfigMap",
                                                                  "name": "ca"}]}}}


def translated(*objects: dict[str, Any]) -> Result:
    """The translation of a Gateway with HTTPS listeners public and secure on port 443."""
    resources = [r for r in yaml.safe_load(CASE.read_text())["resources"]
                 if r["kind"] in ("GatewayClass", "Secret", "ConfigMap")]
    cert = {"certificateRefs": [{"name": "cert"}]}
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default", "generation": 1},
               "spec": {"gatewayClassName": "propylon", "listeners": [
                   {"name": name, "protocol": "HTTPS", "port": 443, "tls": cert,
                    "hostname": f"{name}.example.com"} for name in ("public", "secure")]}}
    snapshot = snapshot_of({"resources": [*resources, gateway, *objects]})
    infra = InfraState(KEY, "127.0.0.1", (PortState(443, 443),), ready=True)
    result: Result = translate(snapshot.__class__(**{**vars(snapshot), "infra": {KEY: infra}}))
    return result


def run(*policies: dict[str, Any]) -> dict[str, Any]:
    """The client validation of each HTTPS chain of port 443, by Gateway listener name."""
    [listener] = translated(*policies).gateways[KEY].listeners
    return {chain.name.rsplit("/", 1)[-1]: chain.client_validation
            for chain in listener.tls_chains}


def test_the_validation_of_one_listener_is_not_lost_to_another_listeners_policy() -> None:
    found = run(ctp("public", {"timeout": {"http": {"idleTimeout": "5s"}}},
                    targetRefs=[target("Gateway", "gw", "public")]),
                ctp("secure", VALIDATION, targetRefs=[target("Gateway", "gw", "secure")]))
    assert found["secure"] is not None and "BEGIN CERTIFICATE" in found["secure"].ca_certificates
    assert found["public"] is None


def test_the_validation_of_one_listener_stays_off_the_other_listeners_of_its_port() -> None:
    found = run(ctp("secure", VALIDATION, targetRefs=[target("Gateway", "gw", "secure")]))
    assert found["secure"] is not None
    assert found["public"] is None


def test_a_gateway_wide_validation_checks_every_listener_without_a_policy_of_its_own() -> None:
    found = run(ctp("all", VALIDATION, targetRefs=[target("Gateway", "gw")]),
                ctp("public", {"timeout": {"http": {"idleTimeout": "5s"}}},
                    targetRefs=[target("Gateway", "gw", "public")]))
    assert found["secure"] is not None
    assert found["public"] is None


def test_another_listeners_sni_name_does_not_reach_a_validated_listeners_routes() -> None:
    app = route("app", [(None, "/")])
    app["spec"]["hostnames"] = ["*.example.com"]
    result = translated(app, ctp("secure", VALIDATION,
                                 targetRefs=[target("Gateway", "gw", "secure")]))
    [listener] = result.gateways[KEY].listeners
    tables = {c.name: c for c in result.gateways[KEY].route_configs}
    chains = {chain.name.rsplit("/", 1)[-1]: chain for chain in listener.tls_chains}
    assert chains["secure"].client_validation is not None
    assert chains["public"].client_validation is None
    secure = {vh.domains[0]: vh for vh in tables[chains["secure"].route_config].virtual_hosts}
    assert [r.name for r in secure["secure.example.com"].routes] == [
        "httproute/default/app/rule/0/match/0"]
    public = {vh.domains[0]: vh for vh in tables[chains["public"].route_config].virtual_hosts}
    [answer] = public["secure.example.com"].routes
    assert answer.direct_response is not None and answer.direct_response.status == MISDIRECTED
