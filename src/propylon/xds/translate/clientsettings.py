"""IR `ClientSettings` (a ClientTrafficPolicy's) -> fields of a connection manager, and the
header mutation filter, as Envoy Gateway builds them.

- Client address: `xff_num_trusted_hops` for a number of trusted X-Forwarded-For hops;
  the original IP detection extension `xff` with `xff_trusted_cidrs` for trusted CIDRs (the
  client is the rightmost address, the peer's included, outside them); the extension
  `custom_header` for a header (with `failClosed`, a request without a valid address in it
  gets 403). Envoy refuses those extensions beside `use_remote_address`, which is then off.
- Early request headers: the early header mutation extension `header_mutation`, which runs
  before routing; late response headers: the `envoy.filters.http.header_mutation` filter's
  response mutations, placed before the compressors and the router so it edits every response
  last, after the route's own response header filters.
- `preserve_external_request_id`, and `headers_with_underscores_action`.
- HTTP/1 `enable_trailers` and `accept_http_10`; HTTP/2 window sizes, concurrent streams and
  `override_stream_error_on_invalid_http_message` (onInvalidMessage TerminateStream); the
  escaped slashes action and `merge_slashes`.
- `forward_client_cert_details` (X-Forwarded-Client-Cert: sanitized, forwarded, appended to or
  set) and `set_current_client_cert_details` (what of the client certificate it gets).
- `tls_parameters`: the TLS versions, ciphers, curves and signature algorithms of the HTTPS
  chains, and their ALPN; `socket_options`: TCP keepalive on the listener's socket.

Edits are set, add, add-if-absent, then removals by name and by match; values are literal
(`%` is written `%%`, as route header filters do).
"""

from __future__ import annotations

from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2 as rules
from envoy.config.core.v3.address_pb2 import CidrRange
from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.config.core.v3.protocol_pb2 import HttpProtocolOptions
from envoy.config.core.v3.socket_option_pb2 import SocketOption
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2 as filter_pb
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpConnectionManager,
    HttpFilter,
)
from envoy.extensions.http.early_header_mutation.header_mutation.v3 import (
    header_mutation_pb2 as early_pb,
)
from envoy.extensions.http.original_ip_detection.custom_header.v3.custom_header_pb2 import (
    CustomHeaderConfig,
)
from envoy.extensions.http.original_ip_detection.xff.v3.xff_pb2 import XffConfig
from envoy.extensions.transport_sockets.tls.v3.common_pb2 import TlsParameters
from envoy.extensions.transport_sockets.tls.v3.tls_pb2 import CommonTlsContext
from envoy.type.v3.http_status_pb2 import HttpStatus, StatusCode
from google.protobuf.wrappers_pb2 import BoolValue, UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate.headers import literal
from propylon.xds.translate.messages import pack, string_matcher

HEADER_MUTATION_FILTER = "envoy.filters.http.header_mutation"
# Linux socket option numbers (Envoy's platform), as Envoy takes them
_SOL_SOCKET, _SO_KEEPALIVE = 1, 9
_IPPROTO_TCP, _TCP_KEEPIDLE, _TCP_KEEPINTVL, _TCP_KEEPCNT = 6, 4, 5, 6
_SLASHES = {"KeepUnchanged": HttpConnectionManager.KEEP_UNCHANGED,
            "RejectRequest": HttpConnectionManager.REJECT_REQUEST,
            "UnescapeAndForward": HttpConnectionManager.UNESCAPE_AND_FORWARD,
            "UnescapeAndRedirect": HttpConnectionManager.UNESCAPE_AND_REDIRECT}
_VERSIONS = {"Auto": TlsParameters.TLS_AUTO, "1.0": TlsParameters.TLSv1_0,
             "1.1": TlsParameters.TLSv1_1, "1.2": TlsParameters.TLSv1_2,
             "1.3": TlsParameters.TLSv1_3}
_XFCC = {"Sanitize": HttpConnectionManager.SANITIZE,
         "ForwardOnly": HttpConnectionManager.FORWARD_ONLY,
         "AppendForward": HttpConnectionManager.APPEND_FORWARD,
         "SanitizeSet": HttpConnectionManager.SANITIZE_SET,
         "AlwaysForwardOnly": HttpConnectionManager.ALWAYS_FORWARD_ONLY}
_UNDERSCORES = {"Allow": HttpProtocolOptions.ALLOW,
                "RejectRequest": HttpProtocolOptions.REJECT_REQUEST,
                "DropHeader": HttpProtocolOptions.DROP_HEADER}


def apply(hcm: HttpConnectionManager, client: ir.ClientSettings) -> None:
    """Set `client`'s connection-manager fields on `hcm`."""
    if client.xff_hops is not None:
        hcm.xff_num_trusted_hops = client.xff_hops
    hcm.skip_xff_append = client.skip_xff_append
    if client.trusted_cidrs:
        xff = XffConfig(skip_xff_append=BoolValue(value=client.skip_xff_append))
        xff.xff_trusted_cidrs.cidrs.extend(_cidr(c) for c in client.trusted_cidrs)
        hcm.original_ip_detection_extensions.append(TypedExtensionConfig(
            name="envoy.extensions.http.original_ip_detection.xff", typed_config=pack(xff)))
    if client.custom_ip_header is not None:
        custom = CustomHeaderConfig(header_name=client.custom_ip_header)
        if client.custom_ip_fail_closed:
            custom.reject_with_status.CopyFrom(HttpStatus(code=StatusCode.Forbidden))
        hcm.original_ip_detection_extensions.append(TypedExtensionConfig(
            name="envoy.extensions.http.original_ip_detection.custom_header",
            typed_config=pack(custom)))
    if hcm.original_ip_detection_extensions:
        hcm.use_remote_address.value = False  # Envoy takes one or the other
    if client.early_request_headers is not None:
        early = early_pb.HeaderMutation(mutations=mutations(client.early_request_headers))
        hcm.early_header_mutation_extensions.append(TypedExtensionConfig(
            name="envoy.http.early_header_mutation.header_mutation", typed_config=pack(early)))
    if client.preserve_request_id is not None:
        hcm.preserve_external_request_id = client.preserve_request_id
    if client.underscores is not None:
        hcm.common_http_protocol_options.headers_with_underscores_action = \
            _UNDERSCORES[client.underscores]
    if client.enable_trailers is not None:
        hcm.http_protocol_options.enable_trailers = client.enable_trailers
    if client.accept_http10 is not None:
        hcm.http_protocol_options.accept_http_10 = client.accept_http10
    h2 = hcm.http2_protocol_options
    for field, value in (("initial_stream_window_size", client.h2_stream_window),
                         ("initial_connection_window_size", client.h2_connection_window),
                         ("max_concurrent_streams", client.h2_max_streams)):
        if value is not None:
            getattr(h2, field).value = value
    if client.h2_terminate_stream is not None:
        h2.override_stream_error_on_invalid_http_message.value = client.h2_terminate_stream
    if client.escaped_slashes is not None:
        hcm.path_with_escaped_slashes_action = _SLASHES[client.escaped_slashes]
    if client.merge_slashes is not None:
        hcm.merge_slashes = client.merge_slashes
    if client.xfcc_mode is not None:
        hcm.forward_client_cert_details = _XFCC[client.xfcc_mode]
    current = hcm.set_current_client_cert_details
    for detail in client.xfcc_details:
        if detail == "Subject":
            current.subject.value = True
        else:
            setattr(current, detail.lower(), True)


def tls_parameters(context: CommonTlsContext, tls: ir.DownstreamTLS) -> None:
    """Set `tls`'s parameters on an HTTPS chain's TLS context (which has Propylon's)."""
    params = context.tls_params
    if tls.min_version is not None:
        params.tls_minimum_protocol_version = _VERSIONS[tls.min_version]
    if tls.max_version is not None:
        params.tls_maximum_protocol_version = _VERSIONS[tls.max_version]
    for field, values in (("cipher_suites", tls.ciphers), ("ecdh_curves", tls.ecdh_curves),
                          ("signature_algorithms", tls.signature_algorithms)):
        if values:
            del getattr(params, field)[:]
            getattr(params, field).extend(values)
    if tls.alpn is not None:
        del context.alpn_protocols[:]
        context.alpn_protocols.extend(tls.alpn)


def socket_options(client: ir.ClientSettings | None) -> list[SocketOption]:
    """TCP keepalive on a listener's socket, when `client` asks for it."""
    if client is None or (client.keepalive_probes, client.keepalive_idle_s,
                          client.keepalive_interval_s) == (None, None, None):
        return []
    state = SocketOption.STATE_LISTENING
    out = [SocketOption(level=_SOL_SOCKET, name=_SO_KEEPALIVE, int_value=1, state=state)]
    for name, value in ((_TCP_KEEPCNT, client.keepalive_probes),
                        (_TCP_KEEPIDLE, client.keepalive_idle_s),
                        (_TCP_KEEPINTVL, client.keepalive_interval_s)):
        if value is not None:
            out.append(SocketOption(level=_IPPROTO_TCP, name=name, int_value=value,
                                    state=state))
    return out


def late_filter(client: ir.ClientSettings | None) -> HttpFilter | None:
    """The header mutation filter editing responses last, or None when there is nothing to
    edit."""
    if client is None or client.late_response_headers is None:
        return None
    edits = mutations(client.late_response_headers)
    if not edits:
        return None
    config = filter_pb.HeaderMutation(mutations=filter_pb.Mutations(response_mutations=edits))
    return HttpFilter(name=HEADER_MUTATION_FILTER, typed_config=pack(config))


def mutations(edits: ir.HeaderMutation) -> list[rules.HeaderMutation]:
    """Envoy's header mutations for `edits`, in the order of `ir.HeaderMutation`."""
    option = HeaderValueOption
    out = [rules.HeaderMutation(append=option(
        header=HeaderValue(key=h.name, value=literal(h.value)), append_action=action,
        keep_empty_value=not h.value))
        for values, action in ((edits.set, option.OVERWRITE_IF_EXISTS_OR_ADD),
                               (edits.add, option.APPEND_IF_EXISTS_OR_ADD),
                               (edits.add_if_absent, option.ADD_IF_ABSENT))
        for h in values]
    out.extend(rules.HeaderMutation(remove=name) for name in edits.remove)
    out.extend(rules.HeaderMutation(remove_on_match=rules.HeaderMutation.RemoveOnMatch(
        key_matcher=string_matcher(kind, value))) for kind, value in edits.remove_on_match)
    return out


def _cidr(cidr: str) -> CidrRange:
    address, _, length = cidr.partition("/")
    return CidrRange(address_prefix=address, prefix_len=UInt32Value(value=int(length)))
