"""EnvoyPatchPolicy in the translation: the patches of the policies accepted on a Gateway go on
its IR in priority order (with their JSONPath), a policy with an unusable patch is Accepted
False naming the field,
and what the xDS translation could not apply comes back as Programmed False."""

from __future__ import annotations

from typing import Any

from propylon.ir.model import Rejections
from propylon.translate.types import Result
from tests.translate.test_policies import GATEWAY_REF, KEY, run, target

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def epp(name: str, patches: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyPatchPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRef": target("Gateway", "gw"), "type": "JSONPatch",
                     "jsonPatches": patches, **spec}}


def panic(name: str = "default/app/80") -> dict[str, Any]:
    return {"type": CLUSTER, "name": name,
            "operation": {"op": "add", "path": "/common_lb_config",
                          "value": {"healthy_panic_threshold": {"value": 0.0}}}}


def conditions(result: Result, name: str) -> dict[str, dict[str, Any]]:
    [update] = [u for u in result.statuses if u.kind == "EnvoyPatchPolicy" and u.name == name]
    [entry] = update.status.to_json()["ancestors"]
    assert entry["ancestorRef"] == GATEWAY_REF
    return {c["type"]: c for c in entry["conditions"]}


def test_patches_of_every_policy_on_the_gateway_go_on_its_ir_lowest_priority_first() -> None:
    result = run(epp("late", [panic("b")], priority=5), epp("early", [panic("a")], priority=-1))
    assert [(p.policy, p.name) for p in result.gateways[KEY].patches] == [
        ("default/early", "a"), ("default/late", "b")]
    for name in ("late", "early"):
        found = conditions(result, name)
        assert found["Accepted"]["status"] == "True"
        assert (found["Programmed"]["status"], found["Programmed"]["reason"]) == (
            "True", "Programmed")


def test_an_unusable_patch_is_refused_naming_the_field_and_applies_nothing() -> None:
    bad = {"type": CLUSTER, "name": "c", "operation": {"op": "add", "path": "common_lb_config",
                                                       "value": 1}}
    result = run(epp("bad", [panic(), bad]))
    found = conditions(result, "bad")
    assert (found["Accepted"]["status"], found["Accepted"]["reason"]) == ("False", "Invalid")
    assert found["Accepted"]["message"].startswith("spec.jsonPatches[1].operation.path: give a "
                                                   "JSON pointer")
    assert "Programmed" not in found
    assert result.gateways[KEY].patches == ()


def test_a_json_path_patch_goes_on_the_ir_with_its_path_relative() -> None:
    item = {"type": CLUSTER, "name": "c", "operation": {
        "op": "replace", "jsonPath": "$..http_filters[?(@.name=='x')]", "value": 1}}
    result = run(epp("jp", [item]))
    assert conditions(result, "jp")["Accepted"]["status"] == "True"
    [patch] = result.gateways[KEY].patches
    assert (patch.json_path, patch.path) == ("$..http_filters[?(@.name=='x')]", "")


def test_what_the_xds_translation_left_out_is_programmed_false_with_its_reason() -> None:
    why = "jsonPatches[0]: the Gateway's Envoy configuration has no Cluster named \"nope\""
    again = run(epp("missing", [panic("nope")]),
                rejections=Rejections(patches={"default/missing": why}))
    found = conditions(again, "missing")
    assert found["Accepted"]["status"] == "True"
    assert (found["Programmed"]["status"], found["Programmed"]["reason"],
            found["Programmed"]["message"]) == ("False", "Invalid", why)


def test_a_patched_resource_envoy_refuses_is_programmed_false_with_envoys_message() -> None:
    refused = "Proto constraint validation failed: value must be greater than 0"
    result = run(epp("breaks", [panic("default/app/80")]),
                 rejections=Rejections(clusters={"default/app/80": refused}))
    found = conditions(result, "breaks")
    assert (found["Programmed"]["status"], found["Programmed"]["message"]) == (
        "False", f"Envoy refused the patched Cluster default/app/80: {refused}")


def test_a_gatewayclass_target_is_refused_naming_the_fix_and_patches_nothing() -> None:
    policy = epp("whole-class", [panic()])
    policy["spec"]["targetRef"] = target("GatewayClass", "propylon")
    foreign = epp("foreign-class", [panic()])
    foreign["spec"]["targetRef"] = target("GatewayClass", "envoy-gateway")
    result = run(policy, foreign)
    [update] = [u for u in result.statuses if u.kind == "EnvoyPatchPolicy"
                and u.name == "whole-class"]
    [entry] = update.status.to_json()["ancestors"]
    assert entry["ancestorRef"] == {"group": "gateway.networking.k8s.io", "kind": "GatewayClass",
                                    "name": "propylon"}
    [accepted] = entry["conditions"]
    assert (accepted["type"], accepted["status"], accepted["reason"]) == (
        "Accepted", "False", "Invalid")
    assert accepted["message"].startswith("spec.targetRef.kind: GatewayClass is a target only "
                                          "when the class's EnvoyProxy sets mergeGateways")
    assert "target the Gateways of class propylon (kind: Gateway) instead" in accepted["message"]
    assert result.gateways[KEY].patches == ()
    [other] = [u for u in result.statuses if u.name == "foreign-class"]
    assert other.status.to_json()["ancestors"] == []
