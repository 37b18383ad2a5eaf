"""Clusters reached over TLS: the transport socket Envoy gets, and the trust bundles sent as SDS
secrets (so a CA change is an SDS push and the cluster itself does not change)."""

from __future__ import annotations

from dataclasses import replace

from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2

from propylon.ir import model as ir
from propylon.xds.translate import translate
from propylon.xds.translate.upstream_tls import SYSTEM_CA_BUNDLE

KEY = ir.GatewayKey("default", "gw")
CA = "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n"


def _gateway(*clusters: ir.Cluster, secrets: tuple[ir.Secret, ...] = ()) -> ir.GatewayIR:
    return ir.GatewayIR(KEY, (), (), clusters, secrets)


def _context(gateway: ir.GatewayIR, name: str) -> tls_pb2.UpstreamTlsContext:
    cluster = translate(gateway).clusters[name]
    assert cluster.transport_socket.name == "envoy.transport_sockets.tls"
    context = tls_pb2.UpstreamTlsContext()
    assert cluster.transport_socket.typed_config.Unpack(context)
    return context


def test_ca_bundle_over_sds_with_sni_san_alpn_and_client_certificate() -> None:
    tls = ir.UpstreamTLS("abc.example.com", ir.TrustBundle("backendtls/default/p", CA),
                         (ir.SubjectAltName("DNS", "abc.example.com"),
                          ir.SubjectAltName("URI", "spiffe://abc.example.com/id")),
                         client_certificate="default/client")
    gateway = _gateway(ir.Cluster("default/s/443", (ir.Endpoint("127.0.0.1", 8443),), tls=tls),
                       secrets=(ir.Secret("default/client", "cert", "key"),))
    context = _context(gateway, "default/s/443")
    assert context.sni == "abc.example.com"
    common = context.common_tls_context
    assert list(common.alpn_protocols) == ["http/1.1"]
    combined = common.combined_validation_context
    assert combined.validation_context_sds_secret_config.name == "backendtls/default/p"
    sans = combined.default_validation_context.match_typed_subject_alt_names
    assert [(m.san_type, m.matcher.exact) for m in sans] == [
        (common_pb2.SubjectAltNameMatcher.DNS, "abc.example.com"),
        (common_pb2.SubjectAltNameMatcher.URI, "spiffe://abc.example.com/id")]
    assert [c.name for c in common.tls_certificate_sds_secret_configs] == ["default/client"]
    secrets = translate(gateway).secrets
    assert secrets["backendtls/default/p"].validation_context.trusted_ca.inline_string == CA
    assert secrets["default/client"].tls_certificate.certificate_chain.inline_string == "cert"


def test_system_roots_without_bundle_and_h2_alpn() -> None:
    tls = ir.UpstreamTLS("public.example.com", None, (ir.SubjectAltName("DNS", "*.example.com"),))
    gateway = _gateway(ir.Cluster("default/g/443", (), "h2c", tls))
    common = _context(gateway, "default/g/443").common_tls_context
    assert list(common.alpn_protocols) == ["h2"]
    # Envoy's system_root_certs loads nothing on Linux: the system bundle file is the CA
    assert common.validation_context.trusted_ca.filename == SYSTEM_CA_BUNDLE
    assert not common.tls_certificate_sds_secret_configs
    assert translate(gateway).secrets == {}


def test_a_ca_change_changes_only_the_secret() -> None:
    tls = ir.UpstreamTLS("a.example.com", ir.TrustBundle("backendtls/default/p", CA),
                         (ir.SubjectAltName("DNS", "a.example.com"),))
    before = translate(_gateway(ir.Cluster("default/s/443", (), tls=tls)))
    rotated = replace(tls, trust=ir.TrustBundle("backendtls/default/p", CA.replace("Y2E", "bmV3")))
    after = translate(_gateway(ir.Cluster("default/s/443", (), tls=rotated)))
    assert before.clusters == after.clusters
    assert before.secrets != after.secrets


def test_plaintext_cluster_has_no_transport_socket() -> None:
    cluster = translate(_gateway(ir.Cluster("default/p/80", ()))).clusters["default/p/80"]
    assert not cluster.HasField("transport_socket")
