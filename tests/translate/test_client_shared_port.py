"""Gateway listeners sharing a port are one Envoy listener: the ClientTrafficPolicy settings
that are per port come from one policy (the first listener's of the port, in the Gateway's
order, that has one, else the Gateway's), and every other policy's status says which of its
fields are not applied, on which port, and whose policy sets them instead."""

from __future__ import annotations

from typing import Any

from propylon.ir.model import ClientTimeouts
from tests.translate.test_client_policies import client_conditions, ctp
from tests.translate.test_client_validation_scope import VALIDATION, translated
from tests.translate.test_policies import KEY, target

IDLE_5S = {"timeout": {"http": {"idleTimeout": "5s"}}}
IDLE_9S = {"timeout": {"http": {"idleTimeout": "9s"}}}


def on(section: str | None) -> dict[str, Any]:
    return {"targetRefs": [target("Gateway", "gw", section) if section
                           else target("Gateway", "gw")]}


def test_a_listener_policy_whose_port_settings_another_listener_sets_is_not_accepted() -> None:
    result = translated(ctp("public", IDLE_5S, **on("public")),
                        ctp("secure", IDLE_9S, **on("secure")))
    [listener] = result.gateways[KEY].listeners
    assert listener.client_timeouts == ClientTimeouts(idle_ms=5000)
    assert client_conditions(result, "public")["Accepted"]["status"] == "True"
    accepted = client_conditions(result, "secure")["Accepted"]
    assert (accepted["status"], accepted["reason"]) == ("False", "Conflicted")
    for part in ("spec.timeout", "port 443", "listener public", "default/public",
                 "default/gw/secure"):
        assert part in accepted["message"]
    assert "tls.clientValidation is applied" not in accepted["message"]


def test_the_per_listener_client_validation_of_such_a_policy_is_said_to_apply() -> None:
    spec = {**IDLE_9S, **VALIDATION}
    result = translated(ctp("public", IDLE_5S, **on("public")),
                        ctp("secure", spec, **on("secure")))
    [listener] = result.gateways[KEY].listeners
    chains = {chain.name.rsplit("/", 1)[-1]: chain for chain in listener.tls_chains}
    assert chains["secure"].client_validation is not None
    accepted = client_conditions(result, "secure")["Accepted"]
    assert accepted["status"] == "False"
    assert "spec.timeout:" in accepted["message"]
    assert "spec.tls.clientValidation:" not in accepted["message"]
    assert "tls.clientValidation is applied" in accepted["message"]


def test_a_policy_with_only_per_listener_settings_conflicts_with_nothing() -> None:
    result = translated(ctp("public", IDLE_5S, **on("public")),
                        ctp("secure", VALIDATION, **on("secure")))
    assert client_conditions(result, "secure")["Accepted"]["status"] == "True"


def test_a_gateway_policy_not_applied_to_listeners_of_a_shared_port_says_so() -> None:
    result = translated(ctp("all", IDLE_9S, **on(None)), ctp("public", IDLE_5S, **on("public")))
    [listener] = result.gateways[KEY].listeners
    assert listener.client_timeouts == ClientTimeouts(idle_ms=5000)
    conditions = client_conditions(result, "all")
    assert conditions["Accepted"]["status"] == "True"
    overridden = conditions["Overridden"]
    assert overridden["status"] == "True"
    for part in ("spec.timeout", "port 443", "listeners [secure]", "public (policy "
                 "default/public)"):
        assert part in overridden["message"]


def test_a_policy_alone_on_its_port_is_accepted() -> None:
    result = translated(ctp("public", IDLE_5S, **on("public")))
    assert client_conditions(result, "public")["Accepted"]["status"] == "True"
