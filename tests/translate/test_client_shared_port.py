"""Gateway listeners sharing a port are one Envoy listener. An HTTPS listener is a filter chain
of its own: its ClientTrafficPolicy's (else the Gateway's) connection manager and TLS settings
are its own, whatever the other listeners of the port ask. Socket settings (`connection`,
`tcpKeepalive`), and every setting of plain-HTTP listeners (one connection manager for the
port), come from one policy: the first listener's of the port, in the Gateway's order, that has
one, else the Gateway's; every other policy's status names the fields not applied, the port and
the listener whose policy sets them."""

from __future__ import annotations

from typing import Any

import yaml

from propylon.ir.model import ChainClient, ClientTimeouts, InfraState, PortState
from propylon.translate import translate
from propylon.translate.golden import snapshot_of
from propylon.translate.types import Result
from tests.translate.test_client_policies import client_conditions, ctp
from tests.translate.test_client_validation_scope import CASE
from tests.translate.test_policies import KEY, target

IDLE_5S = {"timeout": {"http": {"idleTimeout": "5s"}}}
IDLE_9S = {"timeout": {"http": {"idleTimeout": "9s"}}}
KEEPALIVE = {"tcpKeepalive": {"probes": 3}}


def on(section: str | None) -> dict[str, Any]:
    return {"targetRefs": [target("Gateway", "gw", section) if section
                           else target("Gateway", "gw")]}


def translated(protocol: str, *objects: dict[str, Any]) -> Result:
    """A Gateway with listeners public and secure of `protocol` on one port (443 or 80)."""
    resources = [r for r in yaml.safe_load(CASE.read_text())["resources"]
                 if r["kind"] in ("GatewayClass", "Secret", "ConfigMap")]
    port = 443 if protocol == "HTTPS" else 80
    tls = {"tls": {"certificateRefs": [{"name": "cert"}]}} if protocol == "HTTPS" else {}
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "gw", "namespace": "default", "generation": 1},
               "spec": {"gatewayClassName": "propylon", "listeners": [
                   {"name": name, "protocol": protocol, "port": port, **tls,
                    "hostname": f"{name}.example.com"} for name in ("public", "secure")]}}
    snapshot = snapshot_of({"resources": [*resources, gateway, *objects]})
    infra = InfraState(KEY, "127.0.0.1", (PortState(port, port),), ready=True)
    result: Result = translate(snapshot.__class__(**{**vars(snapshot), "infra": {KEY: infra}}))
    return result


def chains(result: Result) -> dict[str, Any]:
    [listener] = result.gateways[KEY].listeners
    return {chain.name.rsplit("/", 1)[-1]: chain for chain in listener.tls_chains}


def test_https_listeners_of_one_port_keep_their_own_timeouts() -> None:
    result = translated("HTTPS", ctp("public", IDLE_5S, **on("public")),
                        ctp("secure", IDLE_9S, **on("secure")))
    [listener] = result.gateways[KEY].listeners
    assert listener.client_timeouts == ClientTimeouts(idle_ms=5000)
    found = chains(result)
    assert found["public"].own_client is None  # the port's: public's policy
    assert found["secure"].own_client == ChainClient(ClientTimeouts(idle_ms=9000))
    for name in ("public", "secure"):
        assert client_conditions(result, name)["Accepted"]["status"] == "True"


def test_an_https_listener_without_a_policy_does_not_take_another_listeners() -> None:
    result = translated("HTTPS", ctp("public", IDLE_5S, **on("public")))
    assert chains(result)["secure"].own_client == ChainClient()


def test_an_https_listener_without_a_policy_of_its_own_takes_the_gateways() -> None:
    result = translated("HTTPS", ctp("all", IDLE_9S, **on(None)),
                        ctp("public", IDLE_5S, **on("public")))
    assert chains(result)["secure"].own_client == ChainClient(ClientTimeouts(idle_ms=9000))
    assert "Overridden" in client_conditions(result, "all")
    assert "port 443" not in client_conditions(result, "all")["Overridden"]["message"]


def test_socket_settings_another_https_listener_sets_for_the_port_are_named() -> None:
    result = translated("HTTPS", ctp("public", {"tcpKeepalive": {"probes": 5}}, **on("public")),
                        ctp("secure", {**KEEPALIVE, **IDLE_9S}, **on("secure")))
    accepted = client_conditions(result, "secure")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Conflicted")
    for part in ("spec.tcpKeepalive:", "port 443", "listener public", "default/public",
                 "default/gw/secure", "its other settings are applied"):
        assert part in accepted["message"]
    assert "spec.timeout" not in accepted["message"]
    own = chains(result)["secure"].own_client
    assert own is not None and own.timeouts == ClientTimeouts(idle_ms=9000)
    [listener] = result.gateways[KEY].listeners
    assert listener.client is not None and listener.client.keepalive_probes == 5


def test_a_plain_http_listener_policy_another_listener_sets_the_port_for_is_named() -> None:
    result = translated("HTTP", ctp("public", IDLE_5S, **on("public")),
                        ctp("secure", IDLE_9S, **on("secure")))
    [listener] = result.gateways[KEY].listeners
    assert listener.client_timeouts == ClientTimeouts(idle_ms=5000)
    assert client_conditions(result, "public")["Accepted"]["status"] == "True"
    accepted = client_conditions(result, "secure")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Conflicted")
    for part in ("spec.timeout:", "port 80", "listener public", "default/gw/secure"):
        assert part in accepted["message"]


def test_a_gateway_policy_not_applied_to_a_plain_http_listener_says_so() -> None:
    result = translated("HTTP", ctp("all", IDLE_9S, **on(None)),
                        ctp("public", IDLE_5S, **on("public")))
    conditions = client_conditions(result, "all")
    assert conditions["Accepted"]["status"] == "True"
    overridden = conditions["Overridden"]["message"]
    for part in ("spec.timeout", "port 80", "listeners [secure]", "public (policy "
                 "default/public)"):
        assert part in overridden


def test_a_policy_alone_on_its_port_is_accepted() -> None:
    result = translated("HTTP", ctp("public", IDLE_5S, **on("public")))
    assert client_conditions(result, "public")["Accepted"]["status"] == "True"
