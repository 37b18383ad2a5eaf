"""EnvoyPatchPolicy's JSON patches on the generated xDS resources: RFC 6902 operations, Envoy
Gateway's route-rule cluster names, a policy with a failing patch left out whole while the
others apply, and the snapshot cache reporting it back."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from propylon.ir import model as ir
from propylon.ir.model import Rejections
from propylon.ir.patches import JsonPatch
from propylon.xds.server.cache import SnapshotCache
from propylon.xds.translate import CLUSTER, LISTENER, VHOST, translate
from propylon.xds.translate.jsonpaths import locate
from propylon.xds.translate.patches import PatchError, apply_operation
from tests.xds.test_translate_golden import KEY, _backend, _example_com_on_80

RULE = "httproute/default/web/rule/0"


def ir_vhost() -> str:
    """The name of the virtual host `gateway` serves (its route table's and domain's)."""
    [name] = translate(gateway()).virtual_hosts
    return name


def gateway(*patches: JsonPatch) -> ir.GatewayIR:
    routes = (ir.Route(f"{RULE}/match/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/web")),
                       backends=(ir.WeightedBackend("default/a/80", 1),)),
              ir.Route("httproute/default/web/rule/1/match/0", ir.RouteMatch(),
                       backends=(ir.WeightedBackend("default/b/80", 1),)))
    built = _example_com_on_80(routes, (_backend("a", 9001), _backend("b", 9002)))
    assert built.key == KEY
    return replace(built, patches=patches)


def patch(name: str, op: str, path: str, value: Any = None, policy: str = "default/p",
          index: int = 0, type_url: str = CLUSTER, from_: str | None = None) -> JsonPatch:
    return JsonPatch(policy, index, type_url, name, op, path, from_,
                     None if value is None else json.dumps(value))


PANIC = {"healthy_panic_threshold": {"value": 0.0}}


def panic_threshold(resources: Any, name: str) -> float | None:
    cluster = resources.clusters[name]
    if not cluster.common_lb_config.HasField("healthy_panic_threshold"):
        return None
    return float(cluster.common_lb_config.healthy_panic_threshold.value)


def test_a_patch_changes_the_named_resource_and_nothing_else() -> None:
    plain = translate(gateway())
    got = translate(gateway(patch("default/b/80", "add", "/common_lb_config", PANIC)))
    assert panic_threshold(got, "default/b/80") == 0.0
    assert panic_threshold(got, "default/a/80") is None
    assert got.patch_failures == {}
    for type_url in (LISTENER, CLUSTER):
        for name, message in got.by_type[type_url].items():
            if name != "default/b/80":
                assert message == plain.by_type[type_url][name]


def test_envoy_gateway_route_rule_cluster_names_patch_that_rules_clusters() -> None:
    got = translate(gateway(patch(RULE, "add", "/common_lb_config", PANIC)))
    assert panic_threshold(got, "default/a/80") == 0.0
    assert panic_threshold(got, "default/b/80") is None


def test_a_policy_with_a_failing_patch_is_left_out_whole_and_says_which_patch() -> None:
    got = translate(gateway(
        patch("default/a/80", "add", "/common_lb_config", PANIC, policy="default/bad"),
        patch("default/a/80", "replace", "/no_such/field", 1, policy="default/bad", index=1),
        patch("default/b/80", "add", "/common_lb_config", PANIC, policy="default/good")))
    assert panic_threshold(got, "default/a/80") is None
    assert panic_threshold(got, "default/b/80") == 0.0
    assert got.patch_failures == {
        "default/bad": "jsonPatches[1]: Cluster default/a/80: path '/no_such' does not exist"}


def test_a_missing_resource_is_named_in_the_failure() -> None:
    got = translate(gateway(patch("nope", "add", "/common_lb_config", PANIC)))
    assert got.patch_failures["default/p"] == (
        'jsonPatches[0]: the Gateway\'s Envoy configuration has no Cluster named "nope": name '
        "one that `propylon translate` prints")


def test_a_result_that_is_not_a_valid_resource_is_refused() -> None:
    got = translate(gateway(patch("default/a/80", "add", "/no_such_field", 1)))
    assert got.patch_failures["default/p"].startswith(
        "jsonPatches[0]: Cluster default/a/80: the patched resource is not a valid "
        "envoy.config.cluster.v3.Cluster")
    assert got.clusters == translate(gateway()).clusters


def test_adding_a_whole_resource_that_does_not_exist_creates_it() -> None:
    value = {"name": "extra", "type": "STATIC", "connect_timeout": "1s"}
    got = translate(gateway(patch("extra", "add", "", value)))
    assert MessageToDict(got.clusters["extra"], preserving_proto_field_name=True) == value


def test_a_json_path_patches_under_every_place_it_selects() -> None:
    headers = [{"header": {"key": "x-a", "value": "1"}}, {"header": {"key": "x-b", "value": "2"}},
               {"header": {"key": "x-a", "value": "3"}}]
    add = patch(f"{ir_vhost()}", "add", "/request_headers_to_add", headers, type_url=VHOST)
    drop = replace(patch(ir_vhost(), "remove", "", type_url=VHOST, index=1),
                   json_path="$.request_headers_to_add[?(@.header.key == 'x-a')]")
    got = translate(gateway(add, drop))
    assert got.patch_failures == {}
    [kept] = got.virtual_hosts[ir_vhost()].request_headers_to_add
    assert (kept.header.key, kept.header.value) == ("x-b", "2")


def test_a_json_path_that_selects_nothing_fails_the_policy() -> None:
    got = translate(gateway(replace(patch("default/a/80", "add", "/x", 1),
                                    json_path="$..no_such_field")))
    assert got.patch_failures["default/p"] == (
        "jsonPatches[0]: Cluster default/a/80: jsonPath '$..no_such_field' selects nothing")


@pytest.mark.parametrize(("expression", "want"), [
    ("$.a.b[1]", ["/a/b/1"]),
    ("a.b[-1]", ["/a/b/1"]),
    ("$..name", ["/l/0/name", "/l/1/name", "/l/1/sub/name"]),
    ("$.l[?(@.name == 'y')]", ["/l/1"]),
    ("$.l[?@.sub]", ["/l/1"]),
    ("$.l[?match(@.name, 'x|y')].name", ["/l/0/name", "/l/1/name"]),
    ("$.l[?search(@.name, 'z')]", []),
    ("$['a']['b'][*]", ["/a/b/0", "/a/b/1"]),
])
def test_json_paths(expression: str, want: list[str]) -> None:
    doc = {"a": {"b": [1, 2]}, "l": [{"name": "x"}, {"name": "y", "sub": {"name": "z"}}]}
    assert locate(doc, expression) == want


def test_a_json_path_it_cannot_read_says_where() -> None:
    with pytest.raises(ValueError, match=r"cannot read '\[0'"):
        locate({}, "$.a[0")


DOC = {"a": {"b": [1, 2]}, "c": "x"}


@pytest.mark.parametrize(("op", "path", "value", "from_", "want"), [
    ("add", "/a/b/1", 9, None, {"a": {"b": [1, 9, 2]}, "c": "x"}),
    ("add", "/a/b/-", 9, None, {"a": {"b": [1, 2, 9]}, "c": "x"}),
    ("add", "/d~1e", 1, None, {**DOC, "d/e": 1}),
    ("remove", "/a/b/0", None, None, {"a": {"b": [2]}, "c": "x"}),
    ("replace", "/c", "y", None, {"a": {"b": [1, 2]}, "c": "y"}),
    ("move", "/d", None, "/c", {"a": {"b": [1, 2]}, "d": "x"}),
    ("copy", "/a/c", None, "/c", {"a": {"b": [1, 2], "c": "x"}, "c": "x"}),
    ("test", "/a/b", [1, 2], None, DOC),
])
def test_rfc_6902_operations(op: str, path: str, value: Any, from_: str | None,
                             want: Any) -> None:
    assert apply_operation(DOC, patch("r", op, path, value, from_=from_)) == want
    assert DOC == {"a": {"b": [1, 2]}, "c": "x"}  # the input is not changed


@pytest.mark.parametrize(("op", "path", "value", "why"), [
    ("replace", "/missing", 1, "path '/missing' does not exist"),
    ("remove", "/a/b/5", None, "path '/a/b/5' does not exist"),
    ("add", "/a/b/7", 1, "cannot add at '/a/b/7'"),
    ("test", "/c", "z", "test failed"),
])
def test_operations_that_cannot_apply_say_why(op: str, path: str, value: Any, why: str) -> None:
    with pytest.raises(PatchError, match=why):
        apply_operation(DOC, patch("r", op, path, value))


def test_the_snapshot_cache_reports_left_out_policies_until_they_apply() -> None:
    cache = SnapshotCache()
    told: list[dict[str, Rejections]] = []
    cache.on_rejections(lambda: told.append(cache.rejections()))
    node = str(KEY)
    cache.set(node, translate(gateway(patch("nope", "remove", "/name"))))
    assert told == [{node: Rejections(patches={"default/p": (
        'jsonPatches[0]: the Gateway\'s Envoy configuration has no Cluster named "nope": name '
        "one that `propylon translate` prints")})}]
    cache.set(node, translate(gateway(patch("default/a/80", "add", "/common_lb_config",
                                            PANIC))))
    assert told[1:] == [{}]
    cache.set(node, translate(gateway()))
    assert len(told) == 2  # nothing changed, nobody told
