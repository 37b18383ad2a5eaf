"""Patch formats on plain dicts: the strategic merge patch kubectl apply sends for builtins."""

from __future__ import annotations

import pytest

from propylon.api.mergepatch import merge_patch
from propylon.apiserver.patch import PatchError, json_patch, strategic_merge_patch

SERVICE = {"spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                              {"name": "https", "port": 443}], "selector": {"app": "a"}},
           "metadata": {"finalizers": ["x"]}}


def test_smp_merges_ports_by_port_and_honours_directives() -> None:
    patch = {"spec": {"$setElementOrder/ports": [{"port": 81}, {"port": 443}],
                      "ports": [{"name": "http", "port": 81}, {"$patch": "delete", "port": 80}]}}
    result = strategic_merge_patch("Service", SERVICE, patch)
    assert result["spec"]["ports"] == [{"name": "http", "port": 81},
                                       {"name": "https", "port": 443}]
    assert result["spec"]["selector"] == {"app": "a"}
    assert SERVICE["spec"]["ports"][0]["port"] == 80  # input left alone


def test_smp_replace_and_primitive_list_directives() -> None:
    result = strategic_merge_patch("Service", SERVICE, {
        "spec": {"selector": {"$patch": "replace", "app": "b"}},
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
    assert result["spec"]["selector"] == {"app": "b"}
    assert result["metadata"]["finalizers"] == []


def test_json_patch_operations_and_failures() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    assert json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3},
                            {"op": "move", "from": "/b/c", "path": "/d"}]) == \
        {"a": [1, 2, 3], "b": {}, "d": 1}
    with pytest.raises(PatchError, match="test operation failed"):
        json_patch(doc, [{"op": "test", "path": "/b/c", "value": 2}])
    with pytest.raises(PatchError, match="nonexistent"):
        json_patch(doc, [{"op": "remove", "path": "/zz"}])


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    assert merge_patch({"a": 1, "l": [1, 2]}, {"a": None, "l": [3]}) == {"l": [3]}
