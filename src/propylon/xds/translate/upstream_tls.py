"""IR `UpstreamTLS` -> the TLS transport socket of an Envoy cluster, and trust bundles -> SDS.

The socket's `UpstreamTlsContext` sends the SNI, offers ALPN for the cluster's protocol (h2 for
HTTP/2 clusters, http/1.1 otherwise) and verifies the backend with a combined validation
context: the CA certificates come over SDS (a `Secret` holding a validation context, named by
the trust bundle), so a CA change is one SDS push, while the Subject Alternative Name matchers
stay in the cluster. Without a trust bundle (`wellKnownCACertificates: System`) the system's
trusted roots verify the backend: the CA bundle file of Debian and Ubuntu hosts and of the Envoy
image, `SYSTEM_CA_BUNDLE`. (Envoy's `system_root_certs` is no use here: on Linux it loads nothing,
and Envoy refuses Subject Alternative Name matching without a CA.) A client certificate, when
the Gateway has one, is also an SDS secret.
"""

from __future__ import annotations

from typing import Literal

from envoy.config.core.v3.base_pb2 import DataSource, TransportSocket
from envoy.config.core.v3.config_source_pb2 import AggregatedConfigSource, ApiVersion, ConfigSource
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from envoy.type.matcher.v3.string_pb2 import StringMatcher

from propylon.ir import model as ir
from propylon.xds.translate.messages import pack

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_SAN_TYPES = {"DNS": common_pb2.SubjectAltNameMatcher.DNS,
              "URI": common_pb2.SubjectAltNameMatcher.URI}


def _ads() -> ConfigSource:
    return ConfigSource(ads=AggregatedConfigSource(), resource_api_version=ApiVersion.V3)


def transport_socket(tls: ir.UpstreamTLS,
                     protocol: Literal["http1", "h2c", "websocket"]) -> TransportSocket:
    """The TLS socket a cluster uses to reach its endpoints."""
    default = common_pb2.CertificateValidationContext(match_typed_subject_alt_names=[
        common_pb2.SubjectAltNameMatcher(san_type=_SAN_TYPES[san.type],
                                         matcher=StringMatcher(exact=san.value))
        for san in tls.subject_alt_names])
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=["h2"] if protocol == "h2c" else ["http/1.1"])
    if tls.trust is None:
        default.trusted_ca.filename = SYSTEM_CA_BUNDLE
        common.validation_context.CopyFrom(default)
    else:
        combined = common.combined_validation_context
        combined.default_validation_context.CopyFrom(default)
        combined.validation_context_sds_secret_config.CopyFrom(
            secret_pb2.SdsSecretConfig(name=tls.trust.name, sds_config=_ads()))
    if tls.client_certificate is not None:
        common.tls_certificate_sds_secret_configs.append(
            secret_pb2.SdsSecretConfig(name=tls.client_certificate, sds_config=_ads()))
    context = tls_pb2.UpstreamTlsContext(common_tls_context=common, sni=tls.sni)
    return TransportSocket(name="envoy.transport_sockets.tls", typed_config=pack(context))


def trust_secret(bundle: ir.TrustBundle) -> secret_pb2.Secret:
    """The SDS secret holding a trust bundle's CA certificates."""
    return secret_pb2.Secret(name=bundle.name, validation_context=common_pb2.CertificateValidationContext(
        trusted_ca=DataSource(inline_string=bundle.ca_certificates)))
