"""IR listeners -> Envoy `Listener`s (LDS), each ending in an HTTP connection manager.

An HTTP listener has one filter chain whose connection manager takes its routes from RDS (the
IR listener's route config) over ADS; an HTTP listener without a route config answers 404 to
everything from an empty inline table. An HTTPS listener has the `tls_inspector` listener filter
and one filter chain per IR `TLSFilterChain`, selected by SNI (`server_names`), terminating TLS
with certificates fetched by name over SDS (ALPN h2 and http/1.1, TLS 1.2 at least), each with
its own RDS route table; a chain with client validation requires (or, in the insecure-fallback
mode, only requests) a client certificate signed by its CA. TLS listeners (TLSRoutes) add SNI
filter chains ending in `tcp_proxy`: without a transport socket for Passthrough (the encrypted
stream goes to the backend as is), with one for Terminate (no ALPN: the stream is not HTTP).
A TCP listener (TCPRoute) has one chain ending in `tcp_proxy`, without any listener filter. A
UDP listener (UDPRoute) is a UDP socket whose `udp_proxy` listener filter sends each client's
datagrams to the route's cluster (its matcher's only action; Envoy's UDP proxy has no weighted
clusters, a UDPRoute's backends share one cluster) and the answers back, a session ending after
`UDP_IDLE_TIMEOUT` without datagrams.
A listener without any chain is left out: it has nothing to present to a client. A
ClientTrafficPolicy's connection limit puts the connection limit filter first in every chain
of the listener (`limits`); its `maxAcceptPerSocketEvent` bounds the connections accepted per
socket event.

The connection manager carries the settings measured in the project's Envoy facts:
`codec_type AUTO` (the route tables ignore the Host port, without rewriting it), path
normalisation with merged slashes and escaped slashes left alone, `use_remote_address`, non-zero
stream idle and request header timeouts, WebSocket upgrades, the HTTP filters the routes of its
table use (`httpfilters`, with a ClientTrafficPolicy's late response header edits, in Envoy
Gateway's order: none when no policy reaches them), a ClientTrafficPolicy's settings
(`clientsettings`: client address, early header edits, protocol, path, TLS and keepalive
settings), and a router that adds no `x-envoy-*` headers. The Gateway's access logs
(`accesslog`) are the connection manager's, its router's (upstream) and the listener's; a TCP
proxy logs each connection, a UDP proxy each session, as Envoy Gateway does. A
ClientTrafficPolicy's connection limit puts the connection limit filter first in every chain of
the listener (`limits`); its `timeout.tcp.idleTimeout` is the TCP proxies' idle timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from envoy.config.core.v3.address_pb2 import Address, SocketAddress
from envoy.config.core.v3.base_pb2 import TransportSocket
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.listener.v3.udp_listener_config_pb2 import UdpListenerConfig
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.extensions.filters.http.router.v3.router_pb2 import Router
from envoy.extensions.filters.listener.tls_inspector.v3.tls_inspector_pb2 import TlsInspector
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb,
)
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpConnectionManager as HCM,
)
from envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2 import TcpProxy
from envoy.extensions.filters.udp.udp_proxy.v3.route_pb2 import Route as UdpRoute
from envoy.extensions.filters.udp.udp_proxy.v3.udp_proxy_pb2 import UdpProxyConfig
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import BoolValue, UInt32Value
from xds.core.v3.extension_pb2 import TypedExtensionConfig  # type: ignore[import-untyped]
from xds.type.matcher.v3.matcher_pb2 import Matcher  # type: ignore[import-untyped]

from propylon.ir import model as ir
from propylon.ir.limits import ConnectionLimit
from propylon.ir.telemetry import AccessLog
from propylon.xds.translate import accesslog, clientsettings, httpfilters, limits
from propylon.xds.translate.clusters import BUFFER_LIMIT_BYTES, ads_source, duration_ms
from propylon.xds.translate.messages import pack, string_matcher

STREAM_IDLE_TIMEOUT = Duration(seconds=300)
REQUEST_HEADERS_TIMEOUT = Duration(seconds=10)
ALPN = ("h2", "http/1.1")
# TLS 1.2 suites offered by HTTPS and TLS-terminating listeners: ECDHE key exchange with AEAD
# ciphers only (no CBC, no RSA key exchange). TLS 1.3 suites are fixed by BoringSSL.
CIPHER_SUITES = (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
)
ECDH_CURVES = ("X25519", "P-256")
UNRESOLVED_CLUSTER = "propylon/unresolved-backend"  # never defined: connections are closed
UDP_IDLE_TIMEOUT = Duration(seconds=60)  # Envoy's default, said here


def connection_manager(stat_prefix: str, route_config: str | None,
                       timeouts: ir.ClientTimeouts | None = None,
                       uses: httpfilters.Uses = httpfilters.NO_USES,
                       filters: list[hcm_pb.HttpFilter] | None = None,
                       client: ir.ClientSettings | None = None,
                       access_logs: tuple[AccessLog, ...] = ()) -> HCM:
    """The HTTP connection manager for one filter chain, routes from RDS `route_config`, with
    the HTTP filters its routes `uses` and the listener's own `filters` (a ClientTrafficPolicy's,
    for every route) before the router; `timeouts` (a ClientTrafficPolicy's) bound how long it
    waits for clients, `client` (also a ClientTrafficPolicy's) sets how client addresses and
    headers are read; `access_logs` are the listener's (`accesslog`)."""
    out = HCM(
        stat_prefix=stat_prefix,
        codec_type=HCM.AUTO,
        normalize_path=BoolValue(value=True),
        merge_slashes=True,
        path_with_escaped_slashes_action=HCM.KEEP_UNCHANGED,
        use_remote_address=BoolValue(value=True),
        stream_idle_timeout=STREAM_IDLE_TIMEOUT,
        request_headers_timeout=REQUEST_HEADERS_TIMEOUT,
        upgrade_configs=[HCM.UpgradeConfig(upgrade_type="websocket")],
        http_filters=[
            *httpfilters.chain(uses, filters or ()),
            hcm_pb.HttpFilter(name="envoy.filters.http.router",
                              typed_config=pack(Router(
                                  suppress_envoy_headers=True,
                                  dynamic_stats=BoolValue(value=False),
                                  upstream_log=accesslog.for_upstream(access_logs)))),
        ],
        access_log=accesslog.for_requests(access_logs),
    )
    if timeouts is not None and timeouts.request_ms is not None:
        out.request_timeout.CopyFrom(duration_ms(timeouts.request_ms))
    if timeouts is not None and timeouts.idle_ms is not None:
        out.common_http_protocol_options.idle_timeout.CopyFrom(duration_ms(timeouts.idle_ms))
    if client is not None:
        clientsettings.apply(out, client)
    if route_config is None:
        out.route_config.CopyFrom(RouteConfiguration(name=stat_prefix,
                                                     ignore_port_in_host_matching=True))
    else:
        out.rds.config_source.CopyFrom(ads_source())
        out.rds.route_config_name = route_config
    return out


def _hcm_filter(stat_prefix: str, route_config: str | None, li: ir.Listener,
                uses: Mapping[str, httpfilters.Uses]) -> lc.Filter:
    late = clientsettings.late_filter(li.client)
    manager = connection_manager(stat_prefix, route_config, li.client_timeouts,
                                 uses.get(route_config or "", httpfilters.NO_USES),
                                 [late] if late is not None else [], li.client,
                                 li.access_logs)
    return lc.Filter(name="envoy.filters.network.http_connection_manager",
                     typed_config=pack(manager))


def _tls_socket(secrets: tuple[str, ...], alpn: tuple[str, ...] = ALPN,
                client: ir.ClientValidation | None = None,
                settings: ir.DownstreamTLS | None = None) -> TransportSocket:
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=list(alpn),
        tls_params=common_pb2.TlsParameters(
            tls_minimum_protocol_version=common_pb2.TlsParameters.TLSv1_2,
            cipher_suites=list(CIPHER_SUITES), ecdh_curves=list(ECDH_CURVES)),
        tls_certificate_sds_secret_configs=[
            secret_pb2.SdsSecretConfig(name=name, sds_config=ads_source()) for name in secrets],
    )
    if settings is not None:
        clientsettings.tls_parameters(common, settings)
    context = tls_pb2.DownstreamTlsContext(common_tls_context=common)
    if client is not None:
        validation = context.common_tls_context.validation_context
        if client.ca_certificates:
            validation.trusted_ca.inline_string = client.ca_certificates
        validation.verify_certificate_spki.extend(client.spki_hashes)
        validation.verify_certificate_hash.extend(client.certificate_hashes)
        validation.match_typed_subject_alt_names.extend(
            common_pb2.SubjectAltNameMatcher(
                san_type=common_pb2.SubjectAltNameMatcher.SanType.Value(san_type),
                matcher=string_matcher(kind, value))
            for san_type, kind, value in client.subject_alt_names)
        if client.optional:
            validation.trust_chain_verification = \
                common_pb2.CertificateValidationContext.ACCEPT_UNTRUSTED
        context.require_client_certificate.value = \
            not (client.optional or client.certificate_optional)
    return TransportSocket(name="envoy.transport_sockets.tls", typed_config=pack(context))


def _tls_chain(chain: ir.TLSFilterChain, li: ir.Listener,
               uses: Mapping[str, httpfilters.Uses]) -> lc.FilterChain:
    if chain.own_client is not None:
        li = replace(li, client_timeouts=chain.own_client.timeouts,
                     client=chain.own_client.client)
    return lc.FilterChain(
        name=chain.name,
        filter_chain_match=lc.FilterChainMatch(server_names=list(chain.server_names)),
        filters=[_hcm_filter(chain.name, chain.route_config, li, uses)],
        transport_socket=_tls_socket(chain.secrets, client=chain.client_validation,
                                     settings=li.client.tls if li.client else None),
    )


def _tcp_proxy(chain: ir.TCPFilterChain, li: ir.Listener) -> lc.Filter:
    """Forward to the chain's backends; a backend without cluster names none that exists, so
    Envoy closes its connections ("cluster not found"). The listener's request logs are
    written once per connection (`accesslog.for_requests`); a ClientTrafficPolicy's
    `timeout.tcp.idleTimeout` closes connections idle that long."""
    clusters = [(b.cluster or UNRESOLVED_CLUSTER, b.weight) for b in chain.backends
                if b.weight > 0] or [(UNRESOLVED_CLUSTER, 1)]
    proxy = TcpProxy(stat_prefix=chain.name, access_log=accesslog.for_requests(li.access_logs))
    if li.client_timeouts is not None and li.client_timeouts.tcp_idle_ms is not None:
        proxy.idle_timeout.CopyFrom(duration_ms(li.client_timeouts.tcp_idle_ms))
    if len(clusters) == 1:
        proxy.cluster = clusters[0][0]
    else:
        proxy.weighted_clusters.clusters.extend(
            TcpProxy.WeightedCluster.ClusterWeight(name=name, weight=weight)
            for name, weight in clusters)
    return lc.Filter(name="envoy.filters.network.tcp_proxy", typed_config=pack(proxy))


def _tcp_chain(chain: ir.TCPFilterChain, li: ir.Listener) -> lc.FilterChain:
    out = lc.FilterChain(name=chain.name,
                         filter_chain_match=lc.FilterChainMatch(
                             server_names=list(chain.server_names)),
                         filters=[_tcp_proxy(chain, li)])
    if chain.secrets:
        out.transport_socket.CopyFrom(_tls_socket(chain.secrets, alpn=()))
    return out


def _udp_proxy(chain: ir.TCPFilterChain,
               access_logs: tuple[AccessLog, ...]) -> lc.ListenerFilter:
    """Send every client's datagrams to the chain's cluster (a name no cluster has when its
    backends are unresolved: Envoy drops the datagrams); the listener's request logs are
    written once per session (`accesslog.for_requests`)."""
    cluster = next((b.cluster for b in chain.backends if b.cluster and b.weight > 0),
                   UNRESOLVED_CLUSTER)
    matcher = Matcher(on_no_match=Matcher.OnMatch(action=TypedExtensionConfig(
        name="route", typed_config=pack(UdpRoute(cluster=cluster)))))
    return lc.ListenerFilter(name="envoy.filters.udp_listener.udp_proxy", typed_config=pack(
        UdpProxyConfig(stat_prefix=chain.name, matcher=matcher, idle_timeout=UDP_IDLE_TIMEOUT,
                       access_log=accesslog.for_requests(access_logs))))


def _udp_listener(li: ir.Listener) -> Listener | None:
    if not li.tcp_chains:
        return None
    return Listener(
        name=li.name,
        address=Address(socket_address=SocketAddress(protocol=SocketAddress.UDP,
                                                     address=li.bind_address,
                                                     port_value=li.bind_port)),
        udp_listener_config=UdpListenerConfig(),
        listener_filters=[_udp_proxy(li.tcp_chains[0], li.access_logs)],
    )


def listener(li: ir.Listener,
             uses: Mapping[str, httpfilters.Uses] = MappingProxyType({})) -> Listener | None:
    """The Envoy listener of one IR listener, or None when it has nothing to serve; `uses`
    holds what the routes of each route table (by name) ask of the HTTP filters."""
    if li.protocol == "UDP":
        return _udp_listener(li)
    out = Listener(
        name=li.name,
        address=Address(socket_address=SocketAddress(address=li.bind_address,
                                                     port_value=li.bind_port)),
        per_connection_buffer_limit_bytes=UInt32Value(value=BUFFER_LIMIT_BYTES),
        socket_options=clientsettings.socket_options(li.client),
        access_log=accesslog.for_listener(li.access_logs),
    )
    if li.protocol == "HTTP":
        out.filter_chains.append(lc.FilterChain(name=li.name,
                                                filters=[_hcm_filter(li.name, li.route_config,
                                                                     li, uses)]))
        return _limited(out, li.connection_limit)
    if not li.tls_chains and not li.tcp_chains:
        return None
    if li.protocol == "TCP":
        out.filter_chains.extend(_tcp_chain(chain, li) for chain in li.tcp_chains)
        return _limited(out, li.connection_limit)
    out.listener_filters.append(lc.ListenerFilter(name="envoy.filters.listener.tls_inspector",
                                                  typed_config=pack(TlsInspector())))
    out.filter_chains.extend(_tls_chain(chain, li, uses) for chain in li.tls_chains)
    out.filter_chains.extend(_tcp_chain(chain, li) for chain in li.tcp_chains)
    return _limited(out, li.connection_limit)


def _limited(out: Listener, limit: ConnectionLimit | None) -> Listener:
    """`out` with the connection limit filter first in each chain, the number of
    connections accepted per socket event and the bytes buffered per connection."""
    if limit is not None and limit.max_accept_per_event is not None:
        out.max_connections_to_accept_per_socket_event.value = limit.max_accept_per_event
    if limit is not None and limit.buffer_bytes is not None:
        out.per_connection_buffer_limit_bytes.value = limit.buffer_bytes
    if limit is not None and limit.value is not None:
        first = limits.connection_limit_filter(out.name, limit.value, limit.close_delay_ms)
        for chain in out.filter_chains:
            filters = [first, *chain.filters]
            del chain.filters[:]
            chain.filters.extend(filters)
    return out
