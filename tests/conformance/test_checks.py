"""Unit tests of status entries, step patches and weighted-split statistics."""

from __future__ import annotations

import pytest

from propylon.conformance import status
from propylon.conformance.steps import Unsupported, apply_patch
from propylon.conformance.traffic import backend_of, split_error

CTL = "propylon.dev/gateway-controller"


def route(conditions: list[dict], generation: int = 2, **ref: str) -> dict:
    parent_ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw",
                  "namespace": "ns", **ref}
    return {"metadata": {"generation": generation},
            "status": {"parents": [{"controllerName": CTL, "parentRef": parent_ref,
                                    "conditions": conditions}]}}


def cond(ctype: str, value: str, reason: str, og: int = 2) -> dict:
    return {"type": ctype, "status": value, "reason": reason, "observedGeneration": og}


ENTRY = {"kind": "HTTPRoute", "namespace": "ns", "name": "r",
         "parent": {"name": "gw", "namespace": "ns"}}


def test_parent_match_needs_group_kind_and_controller() -> None:
    entry = {**ENTRY, "conditions": {"Accepted": {"status": "True", "reason": "Accepted"}}}
    assert status.check(entry, route([cond("Accepted", "True", "Accepted")]), CTL) is None
    assert "no status.parents" in status.check(
        entry, route([cond("Accepted", "True", "Accepted")], group=None), CTL)
    assert "no status.parents" in status.check(
        entry, route([cond("Accepted", "True", "Accepted")]), "other/controller")


def test_condition_only_checks_observed_generation_of_every_parent() -> None:
    entry = {**ENTRY, "conditions": {"ResolvedRefs": {"status": "False",
                                                      "reason": "BackendNotFound"}}}
    obj = route([cond("ResolvedRefs", "False", "BackendNotFound")], group=None)
    assert status.check(entry, obj, "other") is None
    stale = route([cond("ResolvedRefs", "False", "BackendNotFound", og=1)])
    assert "observedGeneration 1" in status.check(entry, stale, CTL)


def test_no_accepted_parents_needs_two_polls_when_empty() -> None:
    entry = {**ENTRY, "noAcceptedParents": True}
    empty = {"metadata": {"generation": 1}, "status": {"parents": []}}
    assert status.check(entry, empty, CTL, seen=0) is not None
    assert status.check(entry, empty, CTL, seen=1) is None
    assert status.check(entry, route([cond("Accepted", "False", "NotAllowedByListeners")]),
                        CTL) is None


def test_gateway_listeners_and_addresses() -> None:
    gw = {"metadata": {"generation": 1}, "status": {
        "conditions": [cond("Accepted", "True", "Accepted", 1)],
        "addresses": [{"type": "IPAddress", "value": "127.0.10.1"}],
        "listeners": [{"name": "http", "attachedRoutes": 1,
                       "supportedKinds": [{"kind": "HTTPRoute"}],
                       "conditions": [cond("Programmed", "True", "Programmed", 1)]}]}}
    entry = {"kind": "Gateway", "hasAddress": True,
             "allListeners": {"conditions": {"Programmed": "True"}}}
    assert status.check(entry, gw, CTL) is None
    exact = {"kind": "Gateway", "listenersExact": {"http": {"attachedRoutes": 2}}}
    assert "attachedRoutes 1, expected 2" in status.check(exact, gw, CTL)
    assert "exactly" in status.check({"kind": "Gateway", "listenersExact": {"a": {}}}, gw, CTL)
    assert "expected zero" in status.check({"kind": "Gateway", "zeroRoutes": True}, gw, CTL)
    assert status.check({"kind": "Gateway", "conditions": {"Accepted": "any"}}, gw, CTL) is None


def test_step_patches() -> None:
    obj = {"spec": {"rules": [{"backendRefs": [{"name": "a"}]}], "listeners": []},
           "data": {"ca.crt": "pem"}}
    apply_patch(obj, "spec.rules[0].backendRefs[0].name = infra-backend-v2")
    apply_patch(obj, 'data.ca.crt = ""')
    apply_patch(obj, "append listener {name: alt, port: 80, allowedRoutes.namespaces.from: All}")
    apply_patch(obj, {"spec": {"description": "new"}})
    assert obj["spec"]["rules"][0]["backendRefs"][0]["name"] == "infra-backend-v2"
    assert obj["data"] == {"ca.crt": ""}
    assert obj["spec"]["listeners"] == [{"name": "alt", "port": 80,
                                         "allowedRoutes": {"namespaces": {"from": "All"}}}]
    assert obj["spec"]["description"] == "new"
    with pytest.raises(Unsupported):
        apply_patch(obj, "restore original spec.validation.caCertificateRefs")


def test_weighted_split_statistics() -> None:
    assert backend_of("infra-backend-v1-6b4f9c7d8-x2k9p") == "infra-backend-v1"
    weights = {"v1": 0.7, "v2": 0.3, "v3": 0.0}
    assert split_error({"v1": 352, "v2": 148}, weights) is None
    assert "v1 got" in split_error({"v1": 300, "v2": 200}, weights)
    assert "weight 0" in split_error({"v1": 350, "v2": 149, "v3": 1}, weights)


def test_remove_patch_drops_a_list_item() -> None:
    gw = {"spec": {"addresses": [{"value": "a"}, {"value": "b"}]}}
    apply_patch(gw, "remove spec.addresses[0]")
    assert gw == {"spec": {"addresses": [{"value": "b"}]}}
    with pytest.raises(Unsupported):
        apply_patch(gw, "remove spec.addresses[3]")


def test_gateway_addresses_must_be_exactly_the_expected_ones() -> None:
    gw = {"metadata": {"generation": 1},
          "status": {"addresses": [{"type": "IPAddress", "value": "127.2.10.200"}]}}
    entry = {"kind": "Gateway", "addresses": [{"type": "IPAddress", "value": "127.2.10.200"}]}
    assert status.check(entry, gw, CTL) is None
    assert "expected exactly" in str(status.check(
        {**entry, "addresses": [*entry["addresses"], {"type": "IPAddress", "value": "x"}]},
        gw, CTL))


def test_prose_steps_are_replaced_by_supplement_data() -> None:
    from propylon.conformance.cases import parse_case
    from propylon.conformance.supplements import steps

    case = parse_case({"name": "HTTPRouteServiceTypes", "steps": [
        {"action": "patch EndpointSlices", "what": "prose"},
        {"action": "request", "request": {"path": "/x"}, "expect": {"status": 200}}]})
    assert [s["action"] for s in steps(case)] == ["endpointsFromPods", "request"]
