"""Decoding a SecurityPolicy's extAuth: what Propylon uses, and what it refuses with the field
and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from propylon.api.envoygateway import Policy
from propylon.api.extauth import DEFAULT_TIMEOUT_MS, ExtAuthSettings, ServiceRef, ext_auth


def _problems(ext: dict[str, Any]) -> tuple[str, ...]:
    return Policy.decode({"kind": "SecurityPolicy", "metadata": {"name": "p", "namespace": "ns"},
                          "spec": {"extAuth": ext}}).problems


def test_http_service_with_every_implemented_field() -> None:
    found, errors = ext_auth({
        "http": {"backendRefs": [{"name": "auth", "namespace": "sec", "port": 8080}],
                 "path": "/auth/", "headersToBackend": ["x-user"]},
        "headersToExtAuth": ["x-tenant"], "failOpen": True,
        "bodyToExtAuth": {"maxRequestBytes": 100}, "recomputeRoute": True, "timeout": "2s"})
    assert errors == []
    assert found == ExtAuthSettings(False, ServiceRef("", "Service", "auth", "sec", 8080),
                                    "/auth", None, ("x-user",), ("x-tenant",), True, 100, True,
                                    2000)


def test_grpc_service_defaults_are_envoy_gateways() -> None:
    found, errors = ext_auth({"grpc": {"backendRef": {"name": "auth", "port": 9002}},
                              "contextExtensions": [{"name": "tier", "value": "gold"}]})
    assert errors == [] and found is not None
    assert (found.grpc, found.fail_open, found.timeout_ms) == (True, False, DEFAULT_TIMEOUT_MS)
    assert found.context_extensions == (("tier", "gold"),)
    assert _problems({"grpc": {"backendRef": {"name": "auth", "port": 9002}}}) == ()


@pytest.mark.parametrize(("ext", "message"), [
    ({}, "spec.extAuth: set exactly one of http and grpc"),
    ({"http": {"backendRef": {"name": "a", "port": 1}}, "grpc": {}},
     "spec.extAuth: set exactly one of http and grpc"),
    ({"http": {}}, "spec.extAuth.http: name the authorisation service in backendRef"),
    ({"grpc": {"backendRef": {"name": "a"}}},
     "spec.extAuth.grpc.backendRef.port: set the Service port"),
    ({"http": {"backendRef": {"group": "example.com", "kind": "Bucket", "name": "a",
                              "port": 1}}},
     "spec.extAuth.http.backendRef: kind 'Bucket' in group 'example.com' is not"),
    ({"http": {"backendRef": {"name": "a", "port": 1}, "path": "auth"}},
     "spec.extAuth.http.path: 'auth' is not a path: start it with /"),
    ({"http": {"backendRef": {"name": "a", "port": 1}}, "timeout": "soon"},
     "spec.extAuth.timeout: 'soon' is not a duration"),
    ({"http": {"backendRef": {"name": "a", "port": 1}}, "statusOnError": 200},
     "spec.extAuth.statusOnError: 200 is not a status"),
    ({"grpc": {"backendRef": {"name": "a", "port": 1}}, "contextExtensions": [
        {"name": "x", "type": "ValueRef", "valueRef": {"kind": "ConfigMap", "name": "c"}}]},
     "spec.extAuth.contextExtensions[0].valueRef is not implemented by Propylon yet"),
    ({"http": {"backendRef": {"name": "a", "port": 1}}, "includeRouteMetadata": True},
     "spec.extAuth.includeRouteMetadata is not implemented by Propylon yet"),
])
def test_unusable_settings_name_the_field_and_the_fix(ext: dict[str, Any], message: str) -> None:
    assert any(p.startswith(message) for p in _problems(ext)), _problems(ext)
