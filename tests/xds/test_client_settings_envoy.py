"""A listener's `ClientSettings` and a route's compression and response overrides in Envoy's
terms, and Envoy takes them: the client address from trusted X-Forwarded-For CIDRs or hops or
a custom header, early request and late response header edits, and compressor and custom
response filters disabled on the connection manager and enabled per route (checked with
`envoy --mode validate`)."""

from __future__ import annotations

from dataclasses import replace

from envoy.config.common.mutation_rules.v3.mutation_rules_pb2 import HeaderMutation
from envoy.config.core.v3.base_pb2 import HeaderValueOption
from envoy.config.core.v3.protocol_pb2 import HttpProtocolOptions
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.extensions.filters.http.compressor.v3.compressor_pb2 import Compressor
from envoy.extensions.filters.http.custom_response.v3.custom_response_pb2 import CustomResponse
from envoy.extensions.filters.http.header_mutation.v3.header_mutation_pb2 import (
    HeaderMutation as HeaderMutationFilter,
)
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpConnectionManager,
)
from envoy.extensions.http.custom_response.local_response_policy.v3.local_response_policy_pb2 import (  # noqa: E501
    LocalResponsePolicy,
)
from envoy.extensions.http.custom_response.redirect_policy.v3.redirect_policy_pb2 import (
    RedirectPolicy,
)
from envoy.extensions.http.early_header_mutation.header_mutation.v3.header_mutation_pb2 import (
    HeaderMutation as EarlyMutation,
)
from envoy.extensions.http.original_ip_detection.custom_header.v3.custom_header_pb2 import (
    CustomHeaderConfig,
)
from envoy.extensions.http.original_ip_detection.xff.v3.xff_pb2 import XffConfig
from envoy.extensions.transport_sockets.tls.v3.common_pb2 import TlsParameters
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import DownstreamTlsContext

from propylon.ir import model as ir
from propylon.xds.translate import httpfilters, translate
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.routes import route
from propylon.xds.translate.static import static_bootstrap
from propylon.xds.validate import envoy_rejects
from tests.certificates import self_signed

KEY = ir.GatewayKey("default", "gw")
EDITS = ir.HeaderMutation(set=(ir.HeaderValue("x-set", "1"),),
                          add=(ir.HeaderValue("x-add", "50%"),),
                          add_if_absent=(ir.HeaderValue("x-default", "d"),),
                          remove=("x-gone",),
                          remove_on_match=(("RegularExpression", "x-secret-.*"),
                                           ("Prefix", "x-internal-")))
TRUSTED = ir.ClientSettings(trusted_cidrs=("10.0.0.0/8", "::/0"),
                            early_request_headers=EDITS, late_response_headers=EDITS,
                            preserve_request_id=True, underscores="RejectRequest")
CUSTOM = ir.ClientSettings(custom_ip_header="x-client-ip", custom_ip_fail_closed=True)
PROTOCOLS = ir.ClientSettings(
    enable_trailers=True, accept_http10=True, h2_stream_window=65536,
    h2_connection_window=1 << 20, h2_max_streams=50, h2_terminate_stream=True,
    escaped_slashes="RejectRequest", merge_slashes=False, keepalive_probes=3,
    keepalive_idle_s=60, keepalive_interval_s=10,
    tls=ir.DownstreamTLS("1.3", "1.3", ("ECDHE-RSA-AES128-GCM-SHA256",), ("X25519",),
                         ("ecdsa_secp256r1_sha256",), ("http/1.1",)))
COMPRESSION = (ir.Compression("Zstd", 100), ir.Compression("Gzip"))
OVERRIDES = (
    ir.ResponseOverride(codes=((404, 404), (501, 503)), status=200, content_type="text/plain",
                        body_format="%RESPONSE_CODE% gone",
                        response_headers=ir.HeaderModifier(set=(ir.HeaderValue("x-o", "1"),))),
    ir.ResponseOverride(headers=(("x-custom", "Exact", "v"),), codes=((500, 500),)),
    ir.ResponseOverride(codes=((401, 401),), redirect=ir.Redirect(
        "https", "www.example.com", 8443, "/login", status_code=301)),
)


def _ir() -> ir.GatewayIR:
    clusters = (ir.Cluster("default/app/80", (ir.Endpoint("127.0.0.1", 9),)),)
    backends = (ir.WeightedBackend(clusters[0].name, 1),)
    routes = (ir.Route("zipped", ir.RouteMatch(ir.PathMatch("PathPrefix", "/z")), backends,
                       compression=COMPRESSION, response_overrides=OVERRIDES),
              ir.Route("rewritten", ir.RouteMatch(ir.PathMatch("PathPrefix", "/v1")), backends,
                       rewrite=ir.Rewrite(path_regex=("^/v1/(.*)$", "/\\1"), auto_host=True,
                                          append_forwarded_host=True)),
              ir.Route("plain", ir.RouteMatch(), backends))
    configs = tuple(ir.RouteConfig(f"default/gw/{port}", (ir.VirtualHost("v", ("*",), used),))
                    for port, used in ((8080, routes), (8081, routes[-1:]), (8082, routes[-1:])))
    listeners = (
        ir.Listener("default/gw/8080", "127.0.0.1", 8080, 8080, "HTTP", configs[0].name,
                    client=TRUSTED),
        ir.Listener("default/gw/8081", "127.0.0.1", 8081, 8081, "HTTP", configs[1].name,
                    client=CUSTOM),
        ir.Listener("default/gw/8082", "127.0.0.1", 8082, 8082, "HTTP", configs[2].name,
                    client=ir.ClientSettings(xff_hops=2, skip_xff_append=True)),
        ir.Listener("default/gw/8443", "127.0.0.1", 8443, 8443, "HTTPS",
                    tls_chains=(ir.TLSFilterChain("default/gw/https", (), ("default/cert",),
                                                  configs[2].name),),
                    client=PROTOCOLS),
    )
    cert, key = self_signed("gw.example")
    return ir.GatewayIR(KEY, listeners, configs, clusters,
                        (ir.Secret("default/cert", cert, key),))


def _listener(index: int) -> Listener:
    """The Envoy listener of IR listener `index`, with the filters its table's routes use."""
    gateway = _ir()
    uses = {c.name: httpfilters.route_uses(r for vh in c.virtual_hosts for r in vh.routes)
            for c in gateway.route_configs}
    out = listener(gateway.listeners[index], uses)
    assert out is not None
    return out


def _manager(index: int) -> HttpConnectionManager:
    out = _listener(index)
    assert out is not None
    manager = HttpConnectionManager()
    out.filter_chains[0].filters[0].typed_config.Unpack(manager)
    return manager


def test_trusted_cidrs_and_header_settings() -> None:
    manager = _manager(0)
    (detection,) = manager.original_ip_detection_extensions
    xff = XffConfig()
    detection.typed_config.Unpack(xff)
    assert [(c.address_prefix, c.prefix_len.value) for c in xff.xff_trusted_cidrs.cidrs] == \
        [("10.0.0.0", 8), ("::", 0)]
    assert manager.preserve_external_request_id
    assert manager.common_http_protocol_options.headers_with_underscores_action == \
        HttpProtocolOptions.REJECT_REQUEST
    (early_ext,) = manager.early_header_mutation_extensions
    early = EarlyMutation()
    early_ext.typed_config.Unpack(early)
    _assert_edits(list(early.mutations))


def _assert_edits(mutations: list[HeaderMutation]) -> None:
    option = HeaderValueOption
    assert [(m.append.header.key, m.append.header.value, m.append.append_action)
            for m in mutations[:3]] == [
        ("x-set", "1", option.OVERWRITE_IF_EXISTS_OR_ADD),
        ("x-add", "50%%", option.APPEND_IF_EXISTS_OR_ADD),
        ("x-default", "d", option.ADD_IF_ABSENT)]
    assert mutations[3].remove == "x-gone"
    assert mutations[4].remove_on_match.key_matcher.safe_regex.regex == "x-secret-.*"
    assert mutations[5].remove_on_match.key_matcher.prefix == "x-internal-"


def test_late_response_headers_run_after_the_route_filters() -> None:
    filters = _manager(0).http_filters
    names = [f.name for f in filters]
    assert names == ["envoy.filters.http.custom_response",
                     "envoy.filters.http.header_mutation",
                     "envoy.filters.http.compressor.gzip", "envoy.filters.http.compressor.zstd",
                     "envoy.filters.http.router"]
    late = HeaderMutationFilter()
    filters[1].typed_config.Unpack(late)
    _assert_edits(list(late.mutations.response_mutations))


def test_compressors_are_disabled_until_a_route_enables_them() -> None:
    filters = {f.name: f for f in _manager(0).http_filters}
    zstd, gzip = Compressor(), Compressor()
    filters["envoy.filters.http.compressor.zstd"].typed_config.Unpack(zstd)
    filters["envoy.filters.http.compressor.gzip"].typed_config.Unpack(gzip)
    assert all(f.disabled for name, f in filters.items() if ".compressor." in name)
    assert zstd.choose_first and not gzip.choose_first
    assert zstd.response_direction_config.common_config.min_content_length.value == 100
    assert not gzip.response_direction_config.common_config.HasField("min_content_length")
    assert zstd.compressor_library.name == "envoy.compression.zstd.compressor"
    zipped, _, plain = (route(r) for r in _ir().route_configs[0].virtual_hosts[0].routes)
    assert set(zipped.typed_per_filter_config) == {"envoy.filters.http.compressor.zstd",
                                                   "envoy.filters.http.compressor.gzip",
                                                   "envoy.filters.http.custom_response"}
    assert list(zipped.request_headers_to_remove) == ["accept-encoding"]
    assert not plain.typed_per_filter_config and not plain.request_headers_to_remove
    assert all(".compressor." not in f.name for f in _manager(1).http_filters)


def test_custom_header_and_trusted_hops() -> None:
    (detection,) = _manager(1).original_ip_detection_extensions
    custom = CustomHeaderConfig()
    detection.typed_config.Unpack(custom)
    assert (custom.header_name, custom.reject_with_status.code) == ("x-client-ip", 403)
    hops = _manager(2)
    assert (hops.xff_num_trusted_hops, hops.skip_xff_append) == (2, True)
    assert hops.use_remote_address.value and not _manager(0).use_remote_address.value
    assert not hops.original_ip_detection_extensions


def test_envoy_takes_them() -> None:
    assert envoy_rejects(static_bootstrap([translate(_ir())])) is None


def test_response_overrides_match_in_order() -> None:
    zipped = route(_ir().route_configs[0].virtual_hosts[0].routes[0])
    config = CustomResponse()
    zipped.typed_per_filter_config["envoy.filters.http.custom_response"].Unpack(config)
    first, second, third = config.custom_response_matcher.matcher_list.matchers
    codes = [p.single_predicate.value_match.exact
             for p in first.predicate.or_matcher.predicate]
    assert codes == ["404", "501", "502", "503"]
    answer = LocalResponsePolicy()
    first.on_match.action.typed_config.Unpack(answer)
    assert (answer.status_code.value, answer.body_format.text_format_source.inline_string) == \
        (200, "%RESPONSE_CODE% gone")
    assert [(h.header.key, h.header.value) for h in answer.response_headers_to_add] == \
        [("content-type", "text/plain"), ("x-o", "1")]
    assert len(second.predicate.and_matcher.predicate) == 2
    redirect = RedirectPolicy()
    third.on_match.action.typed_config.Unpack(redirect)
    assert (redirect.redirect_action.host_redirect, redirect.redirect_action.port_redirect,
            redirect.redirect_action.path_redirect, redirect.status_code.value) == \
        ("www.example.com", 8443, "/login", 301)


def test_http_path_tls_and_keepalive_settings() -> None:
    out = _listener(3)
    assert [(o.level, o.name, o.int_value) for o in out.socket_options] == \
        [(1, 9, 1), (6, 6, 3), (6, 4, 60), (6, 5, 10)]
    chain = out.filter_chains[0]
    manager = HttpConnectionManager()
    chain.filters[0].typed_config.Unpack(manager)
    assert manager.http_protocol_options.enable_trailers
    assert manager.http_protocol_options.accept_http_10
    h2 = manager.http2_protocol_options
    assert (h2.initial_stream_window_size.value, h2.initial_connection_window_size.value,
            h2.max_concurrent_streams.value,
            h2.override_stream_error_on_invalid_http_message.value) == (65536, 1 << 20, 50, True)
    assert manager.path_with_escaped_slashes_action == HttpConnectionManager.REJECT_REQUEST
    assert not manager.merge_slashes
    context = DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(context)
    params = context.common_tls_context.tls_params
    assert (params.tls_minimum_protocol_version, params.tls_maximum_protocol_version) == \
        (TlsParameters.TLSv1_3, TlsParameters.TLSv1_3)
    assert (list(params.cipher_suites), list(params.ecdh_curves),
            list(params.signature_algorithms)) == (
        ["ECDHE-RSA-AES128-GCM-SHA256"], ["X25519"], ["ecdsa_secp256r1_sha256"])
    assert list(context.common_tls_context.alpn_protocols) == ["http/1.1"]
    assert not _listener(0).socket_options


def test_an_http_route_filters_rewrite() -> None:
    action = route(_ir().route_configs[0].virtual_hosts[0].routes[1]).route
    assert (action.regex_rewrite.pattern.regex, action.regex_rewrite.substitution) == \
        ("^/v1/(.*)$", "/\\1")
    assert action.auto_host_rewrite.value and action.append_x_forwarded_host


def test_an_https_chain_with_its_own_settings_keeps_the_ports_socket_options() -> None:
    gateway = _ir()
    https = gateway.listeners[3]
    own = ir.ChainClient(ir.ClientTimeouts(idle_ms=9000),
                         ir.ClientSettings(tls=ir.DownstreamTLS("1.2", "1.2")))
    chains = (*https.tls_chains, replace(https.tls_chains[0], name="default/gw/other",
                                         server_names=("other.example",), own_client=own))
    out = listener(replace(https, tls_chains=chains,
                           client_timeouts=ir.ClientTimeouts(idle_ms=5000)))
    assert out is not None
    assert [(o.level, o.name, o.int_value) for o in out.socket_options] == \
        [(1, 9, 1), (6, 6, 3), (6, 4, 60), (6, 5, 10)]
    managers, versions = [], []
    for chain in out.filter_chains:
        manager = HttpConnectionManager()
        chain.filters[0].typed_config.Unpack(manager)
        managers.append(manager)
        context = DownstreamTlsContext()
        chain.transport_socket.typed_config.Unpack(context)
        versions.append(context.common_tls_context.tls_params.tls_maximum_protocol_version)
    assert [m.common_http_protocol_options.idle_timeout.seconds for m in managers] == [5, 9]
    assert [m.http_protocol_options.enable_trailers for m in managers] == [True, False]
    assert versions == [TlsParameters.TLSv1_3, TlsParameters.TLSv1_2]
