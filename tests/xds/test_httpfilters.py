"""HTTP filters only where used: a connection manager carries a filter only when some route of
its own table uses it, in Envoy Gateway's order (fault, CORS, then the JWT and RBAC filters the
policy stage marks a listener with, router last), and the incremental translator adds and
removes it as routes change; Envoy takes the result."""

from __future__ import annotations

import dataclasses

from envoy.config.listener.v3.listener_pb2 import Listener
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


def test_filters_the_listener_is_marked_with_take_their_place_among_the_others() -> None:
    jwt = ir.Jwt((ir.JwtProvider("ns/p/a", '{"keys": []}'),))
    gateway = _gateway((_route("p", cors=CORS, fault=FAULT, jwt=jwt,
                               authorization=ir.Authorization((), True)),), (_route("s"),))
    marked = dataclasses.replace(gateway.listeners[0], auth_filters=ir.AuthFilters((jwt,), True))
    gateway = dataclasses.replace(gateway, listeners=(marked,))
    assert _filters(translate(gateway).listeners["http"])["http"] == [
        "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.jwt_authn",
        "envoy.filters.http.rbac", ROUTER]


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
