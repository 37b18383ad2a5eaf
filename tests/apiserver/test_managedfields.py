"""Server-side apply and field ownership: structured merge by the schema's list types,
FieldsV1 as Kubernetes writes it, removal of fields a manager stops applying, conflicts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.api.kinds import KINDS, by_kind
from propylon.api.schema import Free
from propylon.apiserver.errors import APIError
from propylon.apiserver.fieldpath import decode, encode
from propylon.apiserver.fieldtypes import shape_of
from propylon.apiserver.managedfields import apply, record_apply, record_update

from .conftest import GATEWAYS, Client

GATEWAY = by_kind("Gateway", "gateway.networking.k8s.io")
ROUTE = by_kind("HTTPRoute", "gateway.networking.k8s.io")
SERVICE = by_kind("Service", "")


def gw(*listeners: tuple[str, int], cls: str | None = "c", **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"listeners": [{"name": n, "port": p, "protocol": "HTTP"}
                                          for n, p in listeners]}
    if cls is not None:
        spec["gatewayClassName"] = cls
    return {"apiVersion": GATEWAY.api_version, "kind": "Gateway",
            "metadata": {"name": "g", "namespace": "default", **meta}, "spec": spec}


def created(config: dict[str, Any], manager: str = "file") -> dict[str, Any]:
    obj = copy.deepcopy(config)
    record_apply(obj, config, manager, GATEWAY, shape_of(GATEWAY), "t0")
    return obj


def gw_apply(live: dict[str, Any], config: dict[str, Any], manager: str,
             force: bool = False) -> dict[str, Any]:
    return apply(live, config, manager, GATEWAY, shape_of(GATEWAY), "t1", force)


def names(obj: dict[str, Any]) -> list[str]:
    return [item["name"] for item in obj["spec"]["listeners"]]


def fields_of(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)
    return dict(entry["fieldsV1"])


def test_listeners_are_owned_by_name_in_fieldsv1() -> None:
    obj = created(gw(("http", 80), labels={"app": "x"}, finalizers=["a/b"]))
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == \
        ("file", "Apply", "FieldsV1")
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}, "f:labels": {"f:app": {}}},
        "f:spec": {"f:gatewayClassName": {}, "f:listeners": {'k:{"name":"http"}': {
            ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}}}}}
    assert encode(decode(entry["fieldsV1"])) == entry["fieldsV1"]


def test_apply_merges_listeners_with_another_managers() -> None:
    obj = created(gw(("http", 80)))
    obj = gw_apply(obj, gw(("extra", 81), cls=None), "ops")
    assert names(obj) == ["http", "extra"]
    # the file applied again, with its listener changed: kubectl's listener stays
    obj = gw_apply(obj, gw(("http", 8080)), "file", force=True)
    assert obj["spec"]["listeners"] == [{"name": "http", "port": 8080, "protocol": "HTTP"},
                                        {"name": "extra", "port": 81, "protocol": "HTTP"}]
    assert list(fields_of(obj, "ops")["f:spec"]["f:listeners"]) == ['k:{"name":"extra"}']


def test_fields_no_longer_applied_are_removed_unless_someone_else_owns_them() -> None:
    obj = created(gw(("http", 80), ("web", 81), labels={"tier": "edge"}))
    # another manager applies the same `web` listener: it now shares it
    obj = gw_apply(obj, gw(("web", 81), cls=None), "ops")
    obj = gw_apply(obj, gw(cls="c"), "file")
    assert names(obj) == ["web"]  # http gone (only the file owned it), web kept (ops owns it)
    assert "labels" not in obj["metadata"]  # the file stopped applying its label
    assert "k:{\"name\":\"http\"}" not in str(obj["metadata"]["managedFields"])
    obj = gw_apply(obj, gw(cls=None), "ops")
    assert obj["spec"].get("listeners") is None  # nobody applies a listener any more


def test_conflict_names_each_field_and_its_manager_and_force_takes_them() -> None:
    obj = created(gw(("http", 80)))
    with pytest.raises(APIError) as err:
        gw_apply(obj, gw(("http", 81), cls="other"), "ops")
    assert err.value.code == 409 and err.value.reason == "Conflict"
    causes = err.value.details["causes"]
    assert {c["field"] for c in causes} == {'.spec.listeners[name="http"].port',
                                           ".spec.gatewayClassName"}
    assert {c["message"] for c in causes} == {
        'conflict with "file" using gateway.networking.k8s.io/v1'}
    assert "Apply failed with 2 conflicts" in err.value.message
    # the same values are no conflict: ownership is shared
    shared = gw_apply(obj, gw(("http", 80)), "ops")
    assert fields_of(shared, "ops") == fields_of(shared, "file")
    forced = gw_apply(obj, gw(("http", 81), cls="other"), "ops", force=True)
    assert forced["spec"]["gatewayClassName"] == "other"
    assert "f:gatewayClassName" not in fields_of(forced, "file")["f:spec"]
    assert "f:port" not in fields_of(forced, "file")["f:spec"]["f:listeners"][
        'k:{"name":"http"}']


def test_update_takes_what_it_changed() -> None:
    obj = created(gw(("http", 80)))
    new = copy.deepcopy(obj)
    new["spec"]["listeners"].append({"name": "patched", "port": 82, "protocol": "HTTP"})
    new["spec"]["gatewayClassName"] = "d"
    record_update(new, obj, "kubectl-patch", GATEWAY, shape_of(GATEWAY), "t1", False)
    mine = next(e for e in new["metadata"]["managedFields"] if e["manager"] == "kubectl-patch")
    assert mine["operation"] == "Update"
    assert decode(mine["fieldsV1"]) >= {(("f", "spec"), ("f", "gatewayClassName")),
                                        (("f", "spec"), ("f", "listeners"),
                                         ("k", '{"name":"patched"}'))}
    assert "f:gatewayClassName" not in fields_of(new, "file")["f:spec"]
    # the file applies again without touching the patched listener
    again = gw_apply(new, gw(("http", 80)), "file", force=True)
    assert names(again) == ["http", "patched"] and again["spec"]["gatewayClassName"] == "c"


def test_service_ports_keyed_by_port_and_defaulted_protocol() -> None:
    shape = shape_of(SERVICE)
    live = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}
    record_apply(live, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}, "a", SERVICE,
                 shape, "t0")
    assert fields_of(live, "a")["f:spec"]["f:ports"] == {
        'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:targetPort": {}}}
    merged = apply(live, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, "b",
                   SERVICE, shape, "t1")
    assert [p["port"] for p in merged["spec"]["ports"]] == [80, 443]


def test_atomic_lists_are_owned_whole() -> None:
    shape = shape_of(ROUTE)
    route = {"apiVersion": ROUTE.api_version, "kind": "HTTPRoute", "metadata": {"name": "r"},
             "spec": {"hostnames": ["a.example"], "parentRefs": [{"name": "g"}]}}
    live = copy.deepcopy(route)
    record_apply(live, route, "file", ROUTE, shape, "t0")
    assert fields_of(live, "file")["f:spec"] == {"f:hostnames": {}, "f:parentRefs": {}}
    with pytest.raises(APIError) as err:
        apply(live, {"spec": {"hostnames": ["b.example"]}}, "ops", ROUTE, shape, "t1")
    assert err.value.details["causes"][0]["field"] == ".spec.hostnames"


def test_a_served_crd_schema_gives_the_list_types() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "items": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["id"],
                  "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set",
                 "items": {"type": "string"}}}}}}
    shape = shape_of(GATEWAY, schema)
    live = {"metadata": {"name": "x"}, "spec": {"items": [{"id": "a"}], "tags": ["t"]}}
    record_apply(live, copy.deepcopy(live), "one", GATEWAY, shape, "t0")
    merged = apply(live, {"spec": {"items": [{"id": "b"}], "tags": ["u"]}}, "two", GATEWAY,
                   shape, "t1")
    assert merged["spec"] == {"items": [{"id": "a"}, {"id": "b"}], "tags": ["t", "u"]}
    assert fields_of(merged, "two")["f:spec"] == {
        "f:items": {'k:{"id":"b"}': {".": {}, "f:id": {}}}, "f:tags": {'v:"u"': {}}}


async def test_apply_conflict_is_a_kubernetes_status(client: Client) -> None:
    apply_type = "application/apply-patch+yaml"
    body = gw(("http", 80), cls="embedded")
    code, _, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager=file", body,
                                      apply_type)
    assert code == 201
    extra = {**gw(("extra", 81), cls=None), "spec": {"listeners": [
        {"name": "extra", "port": 81, "protocol": "HTTP"}]}}
    code, obj, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager=ops", extra,
                                        apply_type)
    assert code == 200 and names(obj) == ["http", "extra"]
    clash = gw(("http", 80), ("extra", 82), cls="embedded")
    code, status, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager=file", clash,
                                           apply_type)
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["details"]["causes"] == [{
        "reason": "FieldManagerConflict",
        "message": 'conflict with "ops" using gateway.networking.k8s.io/v1',
        "field": '.spec.listeners[name="extra"].port'}]
    code, obj, _ = await client.request(
        "PATCH", f"{GATEWAYS}/g?fieldManager=file&force=true", clash, apply_type)
    assert code == 200 and obj["spec"]["listeners"][1]["port"] == 82
    # applying what is already there changes no field but records who else owns it
    code, obj, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager=third",
                                        gw(("http", 80), cls="embedded"), apply_type)
    assert code == 200
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["file", "ops", "third"]


async def test_a_write_that_changes_nothing_stores_nothing(client: Client) -> None:
    merge_type = "application/merge-patch+json"
    code, _, _ = await client.request("POST", f"{GATEWAYS}?fieldManager=a",
                                      gw(("http", 80), cls="embedded"))
    assert code == 201
    for manager, patch in (("b", {"metadata": {"labels": {"team": "x"}}}),
                           ("a", {"spec": {"gatewayClassName": "embedded2"}})):
        code, obj, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager={manager}",
                                            patch, merge_type)
        assert code == 200
    version = obj["metadata"]["resourceVersion"]
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["a", "b"]
    code, again, _ = await client.request("PATCH", f"{GATEWAYS}/g?fieldManager=a",
                                          {"spec": {"gatewayClassName": "embedded2"}},
                                          merge_type)
    assert code == 200 and again["metadata"]["resourceVersion"] == version


def crd_lists(schema: dict[str, Any], path: tuple[str, ...] = ()
              ) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """(path, list type, keys) of every list in a CRD schema ("[]" for a list's items)."""
    out = []
    if schema.get("type") == "array":
        out.append((path, schema.get("x-kubernetes-list-type", "atomic"),
                    tuple(schema.get("x-kubernetes-list-map-keys") or ())))
        out += crd_lists(schema.get("items") or {}, path + ("[]",))
    for name, child in (schema.get("properties") or {}).items():
        out += crd_lists(child, path + (name,))
    return out


def test_propylon_schemas_give_the_list_types_of_the_official_crds() -> None:
    crds = Path(__file__).resolve().parents[2] / ".." / "shared" / "gateway-api" / "crds"
    docs = yaml.safe_load_all((crds / "v1.6.1" / "standard-install.yaml").read_text())
    checked = 0
    for crd in (d for d in docs if d and d.get("kind") == "CustomResourceDefinition"):
        kind = crd["spec"]["names"]["kind"]
        info = next((k for k in KINDS if k.kind == kind and k.group == crd["spec"]["group"]),
                    None)
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        for path, relation, keys in crd_lists(version["schema"]["openAPIV3Schema"]):
            if info is None or path[0] != "spec":
                continue
            shape = shape_of(info)
            for name in path:
                shape = shape.item() if name == "[]" else shape.field(name)
            if shape.source is None or isinstance(shape.source, Free):
                continue  # a field Propylon's schema does not type: deduced, atomic
            list_type = shape.list_type()
            assert (list_type.relation, list_type.keys) == (relation, keys), (kind, path)
            checked += 1
    assert checked >= 20
