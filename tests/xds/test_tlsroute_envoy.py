"""TLSRoute listeners through a real Envoy: one port, SNI chains that pass TLS through to the
backend, terminate it with the listener's certificate, or close connections whose backend is
unresolved."""

from __future__ import annotations

from pathlib import Path

from propylon.conformance import tcp
from propylon.conformance.requests import Target
from propylon.conformance.tlsmaterial import issue
from propylon.echo.tcpserver import TCPEchoConfig, serve_tcp
from propylon.ir import model as ir
from propylon.xds.translate import translate
from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

NODE = "default/tls-routes"
CONTEXT = {"namespace": "default", "ingress": "", "service": "tcp", "pod": "tcp-backend-x-1"}


def gateway(port: int, plain: int, tls: int, terminate: ir.Secret) -> ir.GatewayIR:
    chains = (
        ir.TCPFilterChain("pass", ("abc.example.com",), (ir.WeightedBackend("default/tcp/tls", 1),)),
        ir.TCPFilterChain("term", ("tls.example.com",),
                          (ir.WeightedBackend("default/tcp/plain", 1),), (terminate.name,)),
        ir.TCPFilterChain("gone", ("gone.example.com",), (ir.WeightedBackend(None, 1),)),
    )
    return ir.GatewayIR(
        key=ir.GatewayKey("default", "tls-routes"),
        listeners=(ir.Listener("tls", "127.0.0.1", port, port, "TLS", tcp_chains=chains),),
        route_configs=(),
        clusters=(ir.Cluster("default/tcp/plain", (ir.Endpoint("127.0.0.1", plain),)),
                  ir.Cluster("default/tcp/tls", (ir.Endpoint("127.0.0.1", tls),))),
        secrets=(terminate,),
    )


async def test_passthrough_terminate_and_unresolved_on_one_port(
        xds: XdsFixture, envoy_factory: EnvoyFactory, tmp_path: Path) -> None:
    ca = issue("ca", ca=True)
    backend = issue("abc.example.com", ("abc.example.com",), ca)
    listener = issue("tls.example.com", ("tls.example.com",), ca)
    (tmp_path / "crt").write_bytes(backend.cert_pem)
    (tmp_path / "key").write_bytes(backend.key_pem)
    servers = await serve_tcp(TCPEchoConfig("127.0.0.1", 0, 0, str(tmp_path / "crt"),
                                            str(tmp_path / "key")), CONTEXT)
    plain, tls = (s.sockets[0].getsockname()[1] for s in servers)
    port = free_port()
    secret = ir.Secret("default/tls-cert", listener.cert_pem.decode(), listener.key_pem.decode())
    xds.cache.set(NODE, translate(gateway(port, plain, tls, secret)))
    await envoy_factory(NODE, xds.port)
    target = Target("127.0.0.1", port, ca.cert_pem)
    expect = {"backend": "tcp-backend", "namespace": "default"}
    try:
        async def passthrough() -> bool:
            return await tcp.wait_valid(target, {"sni": "abc.example.com"}, {
                **expect, "backendIsTLS": True, "backendSNI": "abc.example.com"},
                max_time=1) is None

        await wait_for(passthrough, what="TLS passed through to the backend")
        assert await tcp.wait_valid(target, {"sni": "tls.example.com"},
                                    {**expect, "backendIsTLS": False}) is None
        assert await tcp.wait_rejected(target, {"sni": "gone.example.com"}) is None
        assert await tcp.wait_rejected(target, {"sni": "unknown.example.com"}) is None
    finally:
        for server in servers:
            server.close()
