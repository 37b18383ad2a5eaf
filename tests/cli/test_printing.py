"""Table, YAML, JSON and name output print what kubectl prints for the same server answers."""

from __future__ import annotations

import json
from typing import Any

import yaml

from propylon.api.kinds import resolve
from propylon.cli.output import render, resource_name, to_yaml
from propylon.cli.table import format_table

TABLE: dict[str, Any] = {
    "kind": "Table", "apiVersion": "meta.k8s.io/v1",
    "columnDefinitions": [
        {"name": "Name", "type": "string", "priority": 0},
        {"name": "Class", "type": "string", "priority": 0},
        {"name": "Address", "type": "string", "priority": 0},
        {"name": "Programmed", "type": "string", "priority": 0},
        {"name": "Age", "type": "date", "priority": 0},
        {"name": "Extra", "type": "integer", "priority": 1},
    ],
    "rows": [
        {"cells": ["api-gateway", "propylon", "127.0.10.1", "True", "5m", 3],
         "object": {"metadata": {"name": "api-gateway", "namespace": "default"}}},
        {"cells": ["b", "propylon", None, "Unknown", "10s", 2.0],
         "object": {"metadata": {"name": "b", "namespace": "shop"}}},
    ],
}


def test_table_aligns_columns_like_kubectl() -> None:
    assert format_table(TABLE) == (
        "NAME          CLASS      ADDRESS      PROGRAMMED   AGE\n"
        "api-gateway   propylon   127.0.10.1   True         5m\n"
        "b             propylon                Unknown      10s\n")


def test_wide_adds_priority_columns_and_all_namespaces_adds_namespace_first() -> None:
    assert format_table(TABLE, wide=True, with_namespace=True) == (
        "NAMESPACE   NAME          CLASS      ADDRESS      PROGRAMMED   AGE   EXTRA\n"
        "default     api-gateway   propylon   127.0.10.1   True         5m    3\n"
        "shop        b             propylon                Unknown      10s   2\n")


def test_short_columns_are_at_least_six_wide_and_multiline_cells_are_cut() -> None:
    table = {"columnDefinitions": [{"name": "ID"}, {"name": "Message"}, {"name": "Age"}],
             "rows": [{"cells": ["a", "first\nsecond", "1s"]}]}
    assert format_table(table) == "ID    MESSAGE    AGE\na     first...   1s\n"


def test_empty_table_prints_nothing() -> None:
    assert format_table({**TABLE, "rows": []}) == ""


GATEWAY = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
           "metadata": {"name": "api-gateway", "namespace": "default",
                        "managedFields": [{"manager": "propylon"}]},
           "spec": {"gatewayClassName": "propylon"},
           "status": {"conditions": [{"type": "Programmed", "status": "True",
                                      "message": "line one\nline two"}]}}


def test_names_carry_the_group_except_for_core_kinds() -> None:
    assert resource_name(resolve("gtw"), GATEWAY) == "gateway.gateway.networking.k8s.io/api-gateway"
    assert resource_name(resolve("svc"), {"metadata": {"name": "echo"}}) == "service/echo"


def test_yaml_of_one_object_hides_managed_fields_and_quotes_like_kubectl() -> None:
    text = render("yaml", resolve("gateway"), [GATEWAY], single=True)
    assert "managedFields" not in text
    assert 'status: "True"' in text
    assert "  - message: |-\n      line one\n      line two\n" in text
    assert text.startswith("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n")
    assert yaml.safe_load(text)["status"]["conditions"][0]["message"] == "line one\nline two"


def test_a_list_is_printed_as_a_v1_list_with_kind_on_every_item() -> None:
    item = {k: v for k, v in GATEWAY.items() if k not in ("apiVersion", "kind")}
    doc = json.loads(render("json", resolve("gateways"), [item], single=False))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    assert doc["metadata"] == {"resourceVersion": ""}
    assert doc["items"][0]["kind"] == "Gateway"
    assert render("jsonpath={.items[*].metadata.name}", resolve("gateways"), [item],
                  single=False) == "api-gateway"


def test_yaml_lists_are_not_indented_under_their_key() -> None:
    assert to_yaml({"items": [{"a": 1}]}) == "items:\n- a: 1\n"
