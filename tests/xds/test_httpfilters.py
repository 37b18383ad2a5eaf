"""HTTP filters only where used: a connection manager carries a filter only when some route of
its own table uses it, in Envoy Gateway's order (fault, CORS, ext_authz, api_key_auth,
basic_auth, JWT, RBAC, router last), with what the filter holds for all routes derived from
theirs (one ext_authz per service, one basic_auth per forwarded header, every JWT provider),
and the incremental translator adds and removes it as routes change; Envoy takes the
result."""

from __future__ import annotations

import dataclasses

from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.filters.http.jwt_authn.v3.config_pb2 import JwtAuthentication
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpConnectionManager,
)

from propylon.ir import model as ir
from propylon.xds.translate import Translator, translate
from propylon.xds.translate.static import static_bootstrap
from propylon.xds.validate import envoy_rejects

KEY = ir.GatewayKey("default", "gw")
CLUSTER = ir.Cluster("default/app/80", (ir.Endpoint("127.0.0.1", 9),))
CORS = ir.Cors(allow_origins=("https://*.example.com",), allow_methods=("GET",))
FAULT = ir.Fault(abort_status=503)
ROUTER = "envoy.filters.http.router"


def _route(name: str, **policies: object) -> ir.Route:
    return ir.Route(name, ir.RouteMatch(), (ir.WeightedBackend(CLUSTER.name, 1),),
                    **policies)  # type: ignore[arg-type]


def _gateway(plain: tuple[ir.Route, ...], secure: tuple[ir.Route, ...]) -> ir.GatewayIR:
    """An HTTP listener with table `http` and an HTTPS listener with two SNI chains, `a`
    serving `secure` and `b` a route without policies."""
    configs = (ir.RouteConfig("http", (ir.VirtualHost("http/*", ("*",), plain),)),
               ir.RouteConfig("a", (ir.VirtualHost("a/a", ("a.example",), secure),)),
               ir.RouteConfig("b", (ir.VirtualHost("b/b", ("b.example",), (_route("b"),)),)))
    chains = tuple(ir.TLSFilterChain(name, (f"{name}.example",), ("default/cert",), name)
                   for name in ("a", "b"))
    listeners = (ir.Listener("http", "127.0.0.1", 80, 8080, "HTTP", "http"),
                 ir.Listener("https", "127.0.0.1", 443, 8443, "HTTPS", tls_chains=chains))
    return ir.GatewayIR(KEY, listeners, configs, (CLUSTER,), ())


def _filters(listener: Listener) -> dict[str, list[str]]:
    """The HTTP filter names of each filter chain of `listener`, by chain name."""
    out = {}
    for chain in listener.filter_chains:
        manager = HttpConnectionManager()
        chain.filters[0].typed_config.Unpack(manager)
        out[chain.name] = [f.name for f in manager.http_filters]
    return out


def test_tables_without_policies_get_the_router_alone() -> None:
    listeners = translate(_gateway((_route("p"),), (_route("s"),))).listeners
    assert _filters(listeners["http"]) == {"http": [ROUTER]}
    assert _filters(listeners["https"]) == {"a": [ROUTER], "b": [ROUTER]}


def test_filters_follow_the_routes_of_their_own_table_in_envoy_gateways_order() -> None:
    gateway = _gateway((_route("p", cors=CORS), _route("q", fault=FAULT)),
                       (_route("s", cors=CORS),))
    listeners = translate(gateway).listeners
    assert _filters(listeners["http"]) == {
        "http": ["envoy.filters.http.fault", "envoy.filters.http.cors", ROUTER]}
    assert _filters(listeners["https"]) == {"a": ["envoy.filters.http.cors", ROUTER],
                                            "b": [ROUTER]}


JWT = ir.Jwt((ir.JwtProvider("ns/p/a", '{"keys": []}'),))
USERS = "user1:{SHA}tESsBmE/yNY3lb6a0L6vVQEZNqw=\n"


def _ext_auth(name: str) -> ir.ExtAuth:
    return ir.ExtAuth(f"securitypolicy/ns/{name}", f"extauth/ns/{name}/80", f"{name}.ns:80")


def test_auth_filters_come_from_the_routes_of_their_own_table_in_envoy_gateways_order() -> None:
    gateway = _gateway(
        (_route("p", cors=CORS, fault=FAULT, jwt=JWT, authorization=ir.Authorization((), True),
                ext_auth=_ext_auth("one")),
         _route("q", basic_auth=ir.BasicAuth(USERS), ext_auth=_ext_auth("two")),
         _route("r", basic_auth=ir.BasicAuth(USERS, "X-User"),
                api_key_auth=ir.ApiKeyAuth((("c", "k"),), (("header", "x-key"),))),
         _route("s", ext_auth=_ext_auth("one"))),
        (_route("t", jwt=JWT),))
    listeners = translate(gateway).listeners
    assert _filters(listeners["http"])["http"] == [
        "envoy.filters.http.fault", "envoy.filters.http.cors",
        "envoy.filters.http.ext_authz/securitypolicy/ns/one",
        "envoy.filters.http.ext_authz/securitypolicy/ns/two",
        "envoy.filters.http.api_key_auth", "envoy.filters.http.basic_auth",
        "envoy.filters.http.basic_auth/x-user", "envoy.filters.http.jwt_authn",
        "envoy.filters.http.rbac", ROUTER]
    assert _filters(listeners["https"]) == {"a": ["envoy.filters.http.jwt_authn", ROUTER],
                                            "b": [ROUTER]}


def test_the_jwt_filter_holds_the_providers_of_every_requirement_of_its_table() -> None:
    other = ir.Jwt((ir.JwtProvider("ns/q/b", '{"keys": []}'),), optional=True)
    gateway = _gateway((_route("p", jwt=JWT), _route("q", jwt=other), _route("r", jwt=JWT)),
                       ())
    manager = HttpConnectionManager()
    translate(gateway).listeners["http"].filter_chains[0].filters[0].typed_config.Unpack(manager)
    jwt = JwtAuthentication()
    manager.http_filters[0].typed_config.Unpack(jwt)
    assert sorted(jwt.providers) == ["ns/p/a", "ns/q/b"]
    assert sorted(jwt.requirement_map) == [JWT.name, other.name]


def test_two_services_of_one_name_give_one_filter_whatever_the_order() -> None:
    one, other = _ext_auth("one"), dataclasses.replace(_ext_auth("one"), fail_open=True)
    first, second = (translate(_gateway((_route("p", ext_auth=a), _route("q", ext_auth=b)), ()))
                     .listeners["http"] for a, b in ((one, other), (other, one)))
    assert first == second
    assert _filters(first)["http"] == ["envoy.filters.http.ext_authz/securitypolicy/ns/one",
                                       ROUTER]


def test_the_incremental_translator_adds_and_removes_a_filter() -> None:
    translator = Translator()
    plain = _gateway((_route("p"),), (_route("s"),))
    first = translator(plain).listeners["http"]
    with_fault = dataclasses.replace(plain, route_configs=(
        ir.RouteConfig("http", (ir.VirtualHost("http/*", ("*",), (_route("p", fault=FAULT),)),)),
        *plain.route_configs[1:]))
    assert _filters(translator(with_fault).listeners["http"])["http"] == [
        "envoy.filters.http.fault", ROUTER]
    again = translator(plain).listeners
    assert _filters(again["http"])["http"] == [ROUTER]
    assert again["http"] == first
    assert translator(plain).listeners["https"] is again["https"]  # unchanged: reused


def test_envoy_takes_filters_used_by_some_tables_only() -> None:
    gateway = _gateway((_route("p", cors=CORS, fault=FAULT),), (_route("s"),))
    gateway = dataclasses.replace(gateway, listeners=gateway.listeners[:1])
    assert envoy_rejects(static_bootstrap([translate(gateway)])) is None
