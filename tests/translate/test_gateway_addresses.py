"""Gateway addresses: requested addresses the infrastructure cannot serve, value-less entries."""

from __future__ import annotations

from typing import Any

from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.golden import snapshot_of

KEY = GatewayKey("default", "gw")


def _gateway(addresses: list[dict[str, str]], infra: InfraState | None) -> tuple[dict, Any]:
    snapshot = snapshot_of({"resources": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "propylon", "generation": 1},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": "default", "generation": 1},
         "spec": {"gatewayClassName": "propylon", "addresses": addresses,
                  "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}}]})
    if infra is not None:
        snapshot = type(snapshot)(snapshot.objects, {KEY: infra}, snapshot.controller_name,
                                  snapshot.now)
    result = translate(snapshot)
    status = next(u.status.to_json() for u in result.statuses if u.kind == "Gateway")
    return {c["type"]: c for c in status["conditions"]} | {"_status": status}, result


def test_refused_requested_address_is_address_not_usable() -> None:
    refused = InfraState(KEY, None, message="requested address 192.0.2.1 is not a loopback "
                         "address", address_unusable=True)
    conds, _ = _gateway([{"value": "192.0.2.1"}], refused)
    assert (conds["Accepted"]["status"], conds["Accepted"]["reason"]) == ("True", "Accepted")
    assert (conds["Programmed"]["status"], conds["Programmed"]["reason"]) == (
        "False", "AddressNotUsable")
    assert "192.0.2.1" in conds["Programmed"]["message"]
    assert "addresses" not in conds["_status"]


def test_value_less_address_asks_the_pool_for_any_address() -> None:
    served = InfraState(KEY, "127.0.10.1", (PortState(8080, 8080),), ready=True)
    conds, result = _gateway([{"type": "IPAddress"}], served)
    assert result.infra[KEY].requested_addresses == ()
    assert conds["Programmed"]["status"] == "True"
    assert conds["_status"]["addresses"] == [{"type": "IPAddress", "value": "127.0.10.1"}]
