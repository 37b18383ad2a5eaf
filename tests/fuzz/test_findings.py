"""Regression tests for what the fuzzing (`test_envoy_accepts.py`) found, each checked the same
way: through the API validation, both translators and the real Envoy (`envoy --mode validate`).
"""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import UpstreamTlsContext

from propylon.api.validation import validate
from propylon.xds.validate import envoy_rejects
from tests.fuzz.manifests import GW, material
from tests.fuzz.pipeline import Translated, admit_and_translate, bootstrap_of

Obj = dict[str, Any]


def _world(*objects: Obj) -> list[Obj]:
    """A GatewayClass, Gateway a/gw (HTTP on 80), Service a/svc0 with one endpoint, and
    `objects`."""
    return [
        {"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "gc"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {"apiVersion": GW, "kind": "Gateway", "metadata": {"namespace": "a", "name": "gw"},
         "spec": {"gatewayClassName": "gc",
                  "listeners": [{"name": "web", "port": 80, "protocol": "HTTP"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "a", "name": "svc0"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9000}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"namespace": "a", "name": "svc0",
                      "labels": {"kubernetes.io/service-name": "svc0"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 9000}],
         "endpoints": [{"addresses": ["10.0.0.1"]}]},
        *objects]


def _route(*filters: Obj) -> Obj:
    return {"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"namespace": "a", "name": "r"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["a.test"],
                     "rules": [{"filters": list(filters),
                                "backendRefs": [{"name": "svc0", "port": 80}]}]}}


def _accepted(translated: Translated, name: str = "r") -> dict[str, Any]:
    status = translated.statuses()[f"HTTPRoute w0-a/{name}"]
    return next(c for c in status["parents"][0]["conditions"] if c["type"] == "Accepted")


def _envoy_accepts(translated: Translated) -> None:
    assert envoy_rejects(bootstrap_of([translated])) is None


def test_cors_filter_fields_are_validated_before_translation() -> None:
    """A CORS filter was not checked at all: `maxAge: ""` was stored and then crashed the
    translator (ValueError), and origins, methods and headers of any shape went through."""
    route = _route({"type": "CORS", "cors": {"maxAge": "", "allowOrigins": ["ftp://x"],
                                             "allowMethods": ["BREW"],
                                             "allowCredentials": "yes"}})
    fields = {e.field for e in validate(route)}
    assert fields == {"spec.rules[0].filters[0].cors.maxAge",
                      "spec.rules[0].filters[0].cors.allowOrigins[0]",
                      "spec.rules[0].filters[0].cors.allowMethods[0]",
                      "spec.rules[0].filters[0].cors.allowCredentials"}
    translated = admit_and_translate(_world(route), 0)
    assert [obj["kind"] for obj, _ in translated.refused] == ["HTTPRoute"]
    _envoy_accepts(translated)


def test_valid_cors_filter_is_served() -> None:
    route = _route({"type": "CORS", "cors": {"allowOrigins": ["https://*.a.test"],
                                             "allowMethods": ["GET"], "maxAge": 60}})
    assert validate(route) == []
    translated = admit_and_translate(_world(route), 0)
    assert _accepted(translated)["status"] == "True"
    _envoy_accepts(translated)


@pytest.mark.parametrize("value", ["100%", "%START_TIME%", "a%b", "%{VAR}%"])
def test_percent_in_a_header_value_is_sent_literally(value: str) -> None:
    """Envoy read `%` in an added header value as a substitution: "100%" was refused (with
    every other route of the hostname) and "%START_TIME%" was replaced by the time."""
    route = _route({"type": "RequestHeaderModifier",
                    "requestHeaderModifier": {"set": [{"name": "x-a", "value": value}]}},
                   {"type": "ResponseHeaderModifier",
                    "responseHeaderModifier": {"add": [{"name": "x-b", "value": value}]}})
    translated = admit_and_translate(_world(route), 0)
    assert _accepted(translated)["status"] == "True"
    (served,) = next(v for name, v in translated.resources[0].virtual_hosts.items()
                     if name.endswith("/a.test")).routes
    assert served.request_headers_to_add[0].header.value == value.replace("%", "%%")
    assert served.response_headers_to_add[0].header.value == value.replace("%", "%%")
    _envoy_accepts(translated)


@pytest.mark.parametrize(("modifier", "named"), [
    ({"set": [{"name": "Host", "value": "b.test"}]}, '"Host"'),
    ({"add": [{"name": "host", "value": "b.test"}]}, '"host"'),
    ({"remove": ["HOST"]}, '"HOST"'),
    ({"remove": [":path"]}, '":path"'),
    ({"remove": [""]}, "''"),
    ({"set": [{"name": "x-a", "value": "a\nb"}]}, '"x-a"'),
    ({"add": [{"name": "x-a", "value": "a\rb"}]}, '"x-a"'),
    ({"set": [{"name": "x-a", "value": "a\x00b"}]}, '"x-a"'),
])
@pytest.mark.parametrize("where", ["rule", "backendRef"])
@pytest.mark.parametrize("kind", ["RequestHeaderModifier", "ResponseHeaderModifier"])
def test_header_modifier_envoy_refuses_is_not_accepted(modifier: Obj, named: str, where: str,
                                                      kind: str) -> None:
    """Schema-valid header modifiers Envoy refuses (Host, pseudo-headers, NUL/CR/LF in a value)
    were Accepted while Envoy refused the route table of their hostname."""
    field = kind[0].lower() + kind[1:]
    route = _route()
    target = route["spec"]["rules"][0]
    if where == "backendRef":
        target = target["backendRefs"][0]
    target["filters"] = [{"type": kind, field: modifier}]
    assert validate(route) == []
    translated = admit_and_translate(_world(route), 0)
    accepted = _accepted(translated)
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert kind in accepted["message"] and named in accepted["message"]
    _envoy_accepts(translated)


def test_backend_tls_with_system_roots_is_accepted_by_envoy() -> None:
    """`wellKnownCACertificates: System` became `system_root_certs`, which loads nothing on
    Linux: Envoy refused every such cluster ("SAN-based verification of peer certificates
    without trusted CA is insecure and not allowed") while the policy said Accepted."""
    policy = {"apiVersion": GW, "kind": "BackendTLSPolicy",
              "metadata": {"namespace": "a", "name": "btls"},
              "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "svc0"}],
                       "validation": {"wellKnownCACertificates": "System",
                                      "hostname": "svc0.a.test"}}}
    translated = admit_and_translate(_world(_route(), policy, *material()), 0)
    assert _accepted(translated)["status"] == "True"
    (cluster,) = translated.resources[0].clusters.values()
    context = UpstreamTlsContext()
    cluster.transport_socket.typed_config.Unpack(context)
    assert context.common_tls_context.validation_context.trusted_ca.filename
    _envoy_accepts(translated)


def _slice(address_type: str, *addresses: str) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "a", "name": f"svc0-{address_type.lower()}",
                         "labels": {"kubernetes.io/service-name": "svc0"}},
            "addressType": address_type, "ports": [{"name": "http", "port": 9000}],
            "endpoints": [{"addresses": list(addresses)}]}


def test_fqdn_endpoint_slice_is_not_sent_as_endpoints() -> None:
    """An FQDN EndpointSlice (valid in Kubernetes) put its names into EDS, and Envoy refused
    the whole cluster ("malformed IP address") while the route said Accepted."""
    fqdn = _slice("FQDN", "backend.example")
    assert validate(fqdn) == []
    translated = admit_and_translate(_world(_route(), fqdn), 0)
    assert _accepted(translated)["status"] == "True"
    (endpoints,) = translated.resources[0].endpoints.values()
    assert [e.endpoint.address.socket_address.address
            for group in endpoints.endpoints for e in group.lb_endpoints] == ["10.0.0.1"]
    _envoy_accepts(translated)


@pytest.mark.parametrize(("address_type", "good", "bad", "says"), [
    ("IPv4", "10.0.0.1", "10.0.0.300", "valid IPv4 address"),
    ("IPv4", "10.0.0.1", "::1", "valid IPv4 address"),
    ("IPv4", "10.0.0.1", "host.example", "valid IPv4 address"),
    ("IPv6", "::1", "10.0.0.1", "valid IPv6 address"),
    ("FQDN", "a.example", "Not_A_Name", "RFC 1123 subdomain")])
def test_endpoint_slice_address_of_another_type_is_refused(address_type: str, good: str,
                                                           bad: str, says: str) -> None:
    """Such addresses were stored and sent to Envoy, which refused the cluster; kube-apiserver
    refuses them."""
    errors = validate(_slice(address_type, good, bad))
    assert [e.field for e in errors] == ["endpoints[0].addresses[1]"]
    assert says in errors[0].message and bad in errors[0].message


@pytest.mark.parametrize("path", [
    {"type": "ReplaceFullPath", "replaceFullPath": "/a\nb"},
    {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/a\rb"},
    {"type": "ReplaceFullPath", "replaceFullPath": "/a\x00b"}])
@pytest.mark.parametrize("kind", ["RequestRedirect", "URLRewrite"])
def test_redirect_or_rewrite_path_envoy_refuses_is_not_accepted(path: Obj, kind: str) -> None:
    """A path with NUL, CR or LF is schema-valid; Envoy refused the route table."""
    field = "requestRedirect" if kind == "RequestRedirect" else "urlRewrite"
    route = _route({"type": kind, field: {"path": path}})
    if kind == "RequestRedirect":
        del route["spec"]["rules"][0]["backendRefs"]
    assert validate(route) == []
    translated = admit_and_translate(_world(route), 0)
    accepted = _accepted(translated)
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert kind in accepted["message"] and "path" in accepted["message"]
    _envoy_accepts(translated)


def test_retry_attempts_beyond_32_bits_are_not_accepted() -> None:
    """`retry.attempts` has no maximum in the schema; 2**32 crashed the xDS translation
    ("Value out of range")."""
    route = _route()
    route["spec"]["rules"][0]["retry"] = {"attempts": 2**32}
    assert validate(route) == []
    translated = admit_and_translate(_world(route), 0)
    accepted = _accepted(translated)
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert "retry.attempts 4294967296" in accepted["message"]
    _envoy_accepts(translated)


def test_backslash_in_a_full_path_rewrite_is_literal() -> None:
    """The full path is a regex substitution, where a backslash starts a capture group
    reference: "/a\\1b" was rewritten to "/ab"."""
    route = _route({"type": "URLRewrite", "urlRewrite": {
        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/a\\1b"}}})
    translated = admit_and_translate(_world(route), 0)
    assert _accepted(translated)["status"] == "True"
    (served,) = next(v for name, v in translated.resources[0].virtual_hosts.items()
                     if name.endswith("/a.test")).routes
    assert served.route.regex_rewrite.substitution == "/a\\\\1b"
    _envoy_accepts(translated)


def test_grpcroute_session_persistence_is_not_silently_ignored() -> None:
    """`sessionPersistence` is schema-valid and not implemented on a GRPCRoute: the route said
    Accepted and served without it."""
    route = _route()
    route["kind"] = "GRPCRoute"
    route["spec"]["rules"][0]["sessionPersistence"] = {"sessionName": "s", "type": "Cookie"}
    assert validate(route) == []
    translated = admit_and_translate(_world(route), 0)
    status = translated.statuses()["GRPCRoute w0-a/r"]
    accepted = next(c for c in status["parents"][0]["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert "spec.rules[0].sessionPersistence is not supported" in accepted["message"]
    _envoy_accepts(translated)


def test_httproute_session_persistence_is_served() -> None:
    """An HTTPRoute's `sessionPersistence` was silently ignored, then refused; now the route
    keeps its session in Envoy's stateful session filter, and refuses what that cannot do."""
    route = _route()
    route["spec"]["rules"][0]["sessionPersistence"] = {"sessionName": "s", "type": "Cookie"}
    translated = admit_and_translate(_world(route), 0)
    assert _accepted(translated)["status"] == "True"
    (served,) = next(v for name, v in translated.resources[0].virtual_hosts.items()
                     if name.endswith("/a.test")).routes
    assert "envoy.filters.http.stateful_session" in served.typed_per_filter_config
    _envoy_accepts(translated)
    route["spec"]["rules"][0]["sessionPersistence"] = {"sessionName": "no spaces",
                                                        "type": "Header"}
    refused = admit_and_translate(_world(route), 0)
    assert (_accepted(refused)["status"], _accepted(refused)["reason"]) == \
        ("False", "UnsupportedValue")
    assert "sessionName 'no spaces' is not a valid header name" in _accepted(refused)["message"]
