"""The IR fields BackendTrafficPolicies set, in Envoy's terms, and Envoy takes them.

A route's `Retry` (triggers, codes, per-try timeout, back-off) becomes its RetryPolicy, its
`Fault` the fault filter's per-route config, its request body limit the buffer filter's
(disabled in the connection manager, enabled by the route), a listener's `ClientTimeouts` its connection
manager's request and idle timeouts, and a
cluster's `Connection` its connect timeout and upstream HTTP idle timeout and connection life;
the resulting configuration is checked by the real Envoy (`envoy --mode validate`)."""

from __future__ import annotations

from dataclasses import replace

from envoy.extensions.filters.http.buffer.v3.buffer_pb2 import BufferPerRoute
from envoy.extensions.filters.http.fault.v3.fault_pb2 import HTTPFault
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
)
from envoy.extensions.upstreams.http.v3.http_protocol_options_pb2 import HttpProtocolOptions

from propylon.ir import model as ir
from propylon.xds.translate import translate
from propylon.xds.translate.buffer import BUFFER_FILTER
from propylon.xds.translate.clusters import HTTP_PROTOCOL_OPTIONS, cluster
from propylon.xds.translate.fault import FAULT_FILTER
from propylon.xds.translate.httpfilters import route_uses
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.routes import route
from propylon.xds.translate.static import static_bootstrap
from propylon.xds.validate import envoy_rejects

KEY = ir.GatewayKey("default", "gw")
RETRY = ir.Retry(5, (500,), 100, ("connect-failure",), 10_000, 250)
CONNECTION = ir.Connection(3000, 60_000, 3_600_000)
FAULT = ir.Fault(delay_ms=2000, abort_status=500, abort_percent=50.0)


def _ir() -> ir.GatewayIR:
    clusters = (ir.Cluster("default/app/80", (ir.Endpoint("127.0.0.1", 9),)),
                ir.Cluster("default/app/80/default/p", (ir.Endpoint("127.0.0.1", 9),),
                           connection=CONNECTION))
    routes = (ir.Route("r", ir.RouteMatch(), (ir.WeightedBackend(clusters[1].name, 1),),
                       timeout_ms=2000, retry=RETRY, fault=FAULT),)
    config = ir.RouteConfig("default/gw/8080", (ir.VirtualHost("v", ("*",), routes),))
    listener = ir.Listener("default/gw/8080", "127.0.0.1", 8080, 8080, "HTTP", config.name,
                           client_timeouts=ir.ClientTimeouts(50, 3_600_000))
    return ir.GatewayIR(KEY, (listener,), (config,), clusters, ())


def test_retry_policy_of_a_route() -> None:
    out = route(_ir().route_configs[0].virtual_hosts[0].routes[0])
    policy = out.route.retry_policy
    assert policy.retry_on == "connect-failure,retriable-status-codes"
    assert (policy.num_retries.value, list(policy.retriable_status_codes)) == (5, [500])
    assert policy.per_try_timeout.ToMilliseconds() == 250
    assert (policy.retry_back_off.base_interval.ToMilliseconds(),
            policy.retry_back_off.max_interval.ToMilliseconds()) == (100, 10_000)
    assert out.route.timeout.ToMilliseconds() == 2000


def test_fault_of_a_route() -> None:
    out = route(_ir().route_configs[0].virtual_hosts[0].routes[0])
    fault = HTTPFault()
    out.typed_per_filter_config[FAULT_FILTER].Unpack(fault)
    assert fault.delay.fixed_delay.ToMilliseconds() == 2000
    assert fault.delay.percentage.numerator == 1_000_000
    assert (fault.abort.http_status, fault.abort.percentage.numerator) == (500, 500_000)


def test_request_body_limit_of_a_route_enables_the_disabled_buffer_filter() -> None:
    gateway = _ir()
    config = gateway.route_configs[0]
    limited = replace(config.virtual_hosts[0].routes[0], request_body_limit=1024)
    gateway = replace(gateway, route_configs=(replace(config, virtual_hosts=(
        replace(config.virtual_hosts[0], routes=(limited,)),)),))
    per_route = BufferPerRoute()
    route(limited).typed_per_filter_config[BUFFER_FILTER].Unpack(per_route)
    assert per_route.buffer.max_request_bytes.value == 1024
    found = listener(gateway.listeners[0], {config.name: route_uses((limited,))})
    assert found is not None
    manager = HttpConnectionManager()
    found.filter_chains[0].filters[0].typed_config.Unpack(manager)
    [buffer] = [f for f in manager.http_filters if f.name == BUFFER_FILTER]
    assert buffer.disabled
    assert envoy_rejects(static_bootstrap([translate(gateway)])) is None


def test_connection_settings_of_a_cluster() -> None:
    plain, governed = (cluster(c) for c in _ir().clusters)
    assert plain.connect_timeout.ToSeconds() == 5
    assert HTTP_PROTOCOL_OPTIONS not in plain.typed_extension_protocol_options
    assert governed.connect_timeout.ToMilliseconds() == 3000
    options = HttpProtocolOptions()
    governed.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].Unpack(options)
    common = options.common_http_protocol_options
    assert (common.idle_timeout.ToMilliseconds(),
            common.max_connection_duration.ToMilliseconds()) == (60_000, 3_600_000)
    assert options.explicit_http_config.HasField("http_protocol_options")


def test_client_timeouts_of_a_listener() -> None:
    out = listener(_ir().listeners[0])
    assert out is not None
    manager = HttpConnectionManager()
    out.filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert manager.request_timeout.ToMilliseconds() == 50
    assert manager.common_http_protocol_options.idle_timeout.ToSeconds() == 3600


def test_envoy_takes_them() -> None:
    assert envoy_rejects(static_bootstrap([translate(_ir())])) is None
