"""`to_openapi`: the schema Propylon validates with, as the OpenAPI schema `kubectl explain`
falls back to when the CRD files are missing; it must say what validation enforces."""

from __future__ import annotations

from propylon.api.schema import to_openapi
from propylon.api.validation import SCHEMAS


def test_gateway_listeners_keep_types_requirements_and_list_keys() -> None:
    gateway = to_openapi(SCHEMAS[("gateway.networking.k8s.io", "Gateway")])
    spec = gateway["properties"]["spec"]
    assert "gatewayClassName" in spec["required"]
    listeners = spec["properties"]["listeners"]
    assert (listeners["type"], listeners["minItems"], listeners["maxItems"]) == ("array", 1, 64)
    assert listeners["x-kubernetes-list-type"] == "map"
    assert listeners["x-kubernetes-list-map-keys"] == ["name"]
    assert listeners["items"]["type"] == "object"
    assert set(listeners["items"]["required"]) >= {"name", "port", "protocol"}
    port = listeners["items"]["properties"]["port"]
    assert (port["type"], port["minimum"], port["maximum"]) == ("integer", 1, 65535)


def test_enums_defaults_maps_and_open_objects() -> None:
    route = to_openapi(SCHEMAS[("gateway.networking.k8s.io", "HTTPRoute")])
    match = route["properties"]["spec"]["properties"]["rules"]["items"]["properties"][
        "matches"]["items"]["properties"]["path"]
    assert match["properties"]["type"]["enum"] == ["Exact", "PathPrefix", "RegularExpression"]
    assert match["properties"]["type"]["default"] == "PathPrefix"
    secret = to_openapi(SCHEMAS[("", "Secret")])
    assert secret["properties"]["data"] == {
        "type": "object", "additionalProperties": {"type": "string",
                                                   "pattern": r"^[A-Za-z0-9+/]*={0,2}$"}}
    service = to_openapi(SCHEMAS[("", "Service")])
    assert service["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert service["properties"]["status"] == {"x-kubernetes-preserve-unknown-fields": True}
