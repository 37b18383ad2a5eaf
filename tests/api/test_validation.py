"""Validation of written objects: the errors a user sees when `kubectl apply` is refused."""

from __future__ import annotations

from typing import Any

from propylon.api.validation import FieldError, validate, with_defaults


def gateway(**spec: Any) -> dict[str, Any]:
    body = {"gatewayClassName": "propylon",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    body.update(spec)
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default", "managedFields": [{"x": 1}]},
            "spec": body}


def route(rules: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r"}, "spec": {"parentRefs": [{"name": "gw"}], "rules": rules, **spec}}


def by_field(errors: list[FieldError]) -> dict[str, FieldError]:
    return {e.field: e for e in errors}


def test_valid_gateway_has_no_errors_and_metadata_is_free_form() -> None:
    assert validate(gateway()) == []


def test_required_fields() -> None:
    obj = gateway()
    del obj["spec"]["gatewayClassName"]
    del obj["spec"]["listeners"][0]["port"]
    errors = by_field(validate(obj))
    assert errors["spec.gatewayClassName"].reason == "FieldValueRequired"
    assert errors["spec.gatewayClassName"].message == "Required value"
    assert errors["spec.listeners[0].port"].reason == "FieldValueRequired"


def test_missing_spec_is_required() -> None:
    obj = gateway()
    del obj["spec"]
    assert [e.field for e in validate(obj)] == ["spec"]


def test_unknown_field_is_flagged_with_its_path() -> None:
    obj = gateway()
    obj["spec"]["listeners"][0]["bogus"] = True
    (error,) = validate(obj)
    assert error.unknown and error.field == "spec.listeners[0].bogus"
    assert error.message == 'unknown field "spec.listeners[0].bogus"'


def test_status_is_loose() -> None:
    obj = gateway()
    obj["status"] = {"anything": [1, 2], "conditions": []}
    assert validate(obj) == []


def test_port_range_and_enum_messages() -> None:
    obj = gateway(listeners=[{"name": "a", "port": 70000, "protocol": "HTTP",
                              "allowedRoutes": {"namespaces": {"from": "Foo"}}}])
    errors = by_field(validate(obj))
    assert errors["spec.listeners[0].port"].message == (
        "Invalid value: 70000: spec.listeners[0].port in body should be less than or equal to 65535")
    assert errors["spec.listeners[0].allowedRoutes.namespaces.from"].message == (
        'Unsupported value: "Foo": supported values: "All", "Selector", "Same"')
    assert errors["spec.listeners[0].allowedRoutes.namespaces.from"].reason == "FieldValueNotSupported"


def test_wrong_type() -> None:
    obj = gateway(listeners=[{"name": "a", "port": "80", "protocol": "HTTP"}])
    (error,) = validate(obj)
    assert error.field == "spec.listeners[0].port" and "must be of type integer" in error.message


def test_duplicate_listener_names() -> None:
    obj = gateway(listeners=[{"name": "a", "port": 80, "protocol": "HTTP"},
                             {"name": "a", "port": 81, "protocol": "HTTP"}])
    errors = validate(obj)
    assert any(e.reason == "FieldValueDuplicate" and e.field == "spec.listeners[1]" for e in errors)
    assert any("Listener name must be unique" in e.message for e in errors)


def test_tls_required_for_https_and_forbidden_for_http() -> None:
    tls = {"certificateRefs": [{"name": "cert"}]}
    https = gateway(listeners=[{"name": "a", "port": 443, "protocol": "HTTPS"}])
    assert [e.message for e in validate(https)] == [
        'Invalid value: "array": tls must be specified for protocol HTTPS']
    http = gateway(listeners=[{"name": "a", "port": 80, "protocol": "HTTP", "tls": tls}])
    assert "tls must not be specified" in validate(http)[0].message
    good = gateway(listeners=[{"name": "a", "port": 443, "protocol": "HTTPS", "tls": tls}])
    assert validate(good) == []


def test_listener_hostname_pattern_and_too_many_listeners() -> None:
    bad = gateway(listeners=[{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "Foo_Bar"}])
    assert validate(bad)[0].field == "spec.listeners[0].hostname"
    many = gateway(listeners=[{"name": f"l{i}", "port": 1000 + i, "protocol": "HTTP"} for i in range(65)])
    (error,) = validate(many)
    assert error.reason == "FieldValueTooMany" and error.message == "Too many: 65: must have at most 64 items"


def test_name_too_long() -> None:
    obj = gateway(gatewayClassName="x" * 254)
    (error,) = validate(obj)
    assert error.reason == "FieldValueTooLong"


def test_path_must_start_with_slash() -> None:
    obj = route([{"matches": [{"path": {"type": "PathPrefix", "value": "foo"}}]}])
    messages = [e.message for e in validate(obj)]
    assert any("start with '/'" in m for m in messages)
    regex = route([{"matches": [{"path": {"type": "RegularExpression", "value": "foo.*"}}]}])
    assert validate(regex) == []


def test_filter_must_match_its_type() -> None:
    obj = route([{"filters": [{"type": "RequestHeaderModifier"}]}])
    (error,) = validate(obj)
    assert error.field == "spec.rules[0].filters[0]"
    assert "requestHeaderModifier must be specified" in error.message


def test_service_backend_needs_port() -> None:
    obj = route([{"backendRefs": [{"name": "svc"}]}])
    (error,) = validate(obj)
    assert "Must have port for Service reference" in error.message


def test_timeouts() -> None:
    bad = route([{"timeouts": {"request": "1s", "backendRequest": "2s"}}])
    assert "backendRequest timeout cannot be longer" in validate(bad)[0].message
    assert validate(route([{"timeouts": {"request": "10x"}}]))[0].field == "spec.rules[0].timeouts.request"


def test_rule_names_are_unique() -> None:
    (error,) = validate(route([{"name": "a"}, {"name": "a"}, {}]))
    assert "Rule name must be unique within the route" in error.message
    assert validate(route([{"name": "a"}, {"name": "b"}, {}, {}])) == []


def test_retry() -> None:
    assert validate(route([{"retry": {"attempts": 2, "codes": [500, 503], "backoff": "100ms"}}])) == []
    fields = by_field(validate(route([{"retry": {"attempts": 0, "codes": [200], "backoff": "1x"}}])))
    assert set(fields) == {"spec.rules[0].retry.attempts", "spec.rules[0].retry.codes[0]",
                           "spec.rules[0].retry.backoff"}


def test_service_port_range_and_endpointslice_address_type() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 0}]}}
    assert validate(svc)[0].field == "spec.ports[0].port"
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
           "addressType": "IPv5", "endpoints": []}
    assert validate(eps)[0].reason == "FieldValueNotSupported"


def test_unknown_kind_validates_empty() -> None:
    assert validate({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": 1}}) == []


def test_defaults_are_filled() -> None:
    obj = with_defaults(route([{"backendRefs": [{"name": "svc", "port": 80}]}]))
    rule = obj["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["backendRefs"][0] == {"name": "svc", "port": 80, "group": "", "kind": "Service",
                                      "weight": 1}
    assert obj["spec"]["parentRefs"][0]["kind"] == "Gateway"


def grpc_route(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {**route(rules), "kind": "GRPCRoute"}


def test_grpc_route_method_matches_and_filters() -> None:
    ok = {"matches": [{"method": {"service": "pkg.Svc", "method": "Call"},
                       "headers": [{"name": "version", "value": "two"}]},
                      {"method": {"type": "RegularExpression", "service": "pkg\\..*"}}],
          "filters": [{"type": "RequestHeaderModifier",
                       "requestHeaderModifier": {"set": [{"name": "x", "value": "y"}]}}],
          "backendRefs": [{"name": "b", "port": 8080}]}
    assert validate(grpc_route([ok])) == []
    errors = by_field(validate(grpc_route([{
        "matches": [{"method": {"service": "pkg/Svc"}}, {"method": {}}],
        "filters": [{"type": "URLRewrite", "urlRewrite": {}}]}])))
    assert "service must only contain valid characters" in \
        errors["spec.rules[0].matches[0].method"].message
    assert "One or both of 'service' or 'method'" in \
        errors["spec.rules[0].matches[1].method"].message
    assert errors["spec.rules[0].filters[0].type"].reason == "FieldValueNotSupported"
    defaulted = with_defaults(grpc_route([ok]))["spec"]["rules"][0]
    assert defaulted["matches"][0]["method"]["type"] == "Exact"
    assert defaulted["backendRefs"][0]["weight"] == 1
