"""Several certificates on one HTTPS listener (certificateRefs list): Envoy presents the one whose
names match the client's SNI, from a single filter chain."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

import pytest

from propylon.ir import model as ir
from propylon.xds.translate import translate
from test_tls_envoy import served_serial

from tests.certificates import self_signed
from xds_support import BackendFactory, EnvoyFactory, XdsFixture, free_port, wait_for

NODE = "default/certs"


async def test_one_listener_presents_the_certificate_matching_the_sni(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    backend = await backend_factory("app")
    port = free_port()
    certs = {"a.example.com": self_signed("a.example.com", serial=3001),
             "b.example.com": self_signed("b.example.com", serial=4001)}
    chain = ir.TLSFilterChain("https", (), tuple(f"default/{h}" for h in sorted(certs)), "rc")
    xds.cache.set(NODE, translate(ir.GatewayIR(
        key=ir.GatewayKey("default", "certs"),
        listeners=(ir.Listener("https", "127.0.0.1", port, port, "HTTPS", tls_chains=(chain,)),),
        route_configs=(ir.RouteConfig("rc", (ir.VirtualHost("any", ("*",), (
            ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend("ns/app/80", 1),)),)),)),),
        clusters=(ir.Cluster("ns/app/80", (ir.Endpoint("127.0.0.1", backend),)),),
        secrets=tuple(ir.Secret(f"default/{h}", c, k) for h, (c, k) in sorted(certs.items())))))
    await envoy_factory(NODE, xds.port)

    async def up() -> bool:
        try:
            return await served_serial(port, "b.example.com") == 4001
        except OSError:
            return False

    await wait_for(up, what="HTTPS listener")
    assert await served_serial(port, "a.example.com") == 3001


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_policy_refuses_old_protocols_and_cbc_ciphers(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    backend = await backend_factory("app")
    port = free_port()
    cert, key = self_signed("a.example.com", serial=5001)
    chain = ir.TLSFilterChain("https", (), ("default/a",), "rc")
    xds.cache.set(NODE, translate(ir.GatewayIR(
        key=ir.GatewayKey("default", "certs"),
        listeners=(ir.Listener("https", "127.0.0.1", port, port, "HTTPS", tls_chains=(chain,)),),
        route_configs=(ir.RouteConfig("rc", (ir.VirtualHost("any", ("*",), (
            ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend("ns/app/80", 1),)),)),)),),
        clusters=(ir.Cluster("ns/app/80", (ir.Endpoint("127.0.0.1", backend),)),),
        secrets=(ir.Secret("default/a", cert, key),))))
    await envoy_factory(NODE, xds.port)

    async def up() -> bool:
        try:
            return await served_serial(port, "a.example.com") == 5001
        except OSError:
            return False
    await wait_for(up, what="HTTPS listener")

    def handshake(configure: Callable[[ssl.SSLContext], None]) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        configure(context)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="a.example.com") as tls:
                return f"{tls.version()} {tls.cipher()[0]}"

    def tls12_aead(c: ssl.SSLContext) -> None:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        c.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")

    def tls12_cbc(c: ssl.SSLContext) -> None:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        c.set_ciphers("ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES128-SHA")

    def tls11(c: ssl.SSLContext) -> None:
        c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_1
        c.set_ciphers("ALL:@SECLEVEL=0")

    assert handshake(lambda c: None).startswith("TLSv1.3")
    assert handshake(tls12_aead).startswith("TLSv1.2 ECDHE-")
    for refused in (tls12_cbc, tls11):
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            handshake(refused)
