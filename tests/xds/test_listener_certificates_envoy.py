"""Several certificates on one HTTPS listener (certificateRefs list): Envoy presents the one whose
names match the client's SNI, from a single filter chain."""

from __future__ import annotations

from propylon.ir import model as ir
from propylon.xds.translate import translate
from test_tls_envoy import self_signed, served_serial
from xds_support import BackendFactory, EnvoyFactory, XdsFixture, free_port, wait_for

NODE = "default/certs"


async def test_one_listener_presents_the_certificate_matching_the_sni(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    backend = await backend_factory("app")
    port = free_port()
    certs = {"a.example.com": self_signed("a.example.com", 3001),
             "b.example.com": self_signed("b.example.com", 4001)}
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
