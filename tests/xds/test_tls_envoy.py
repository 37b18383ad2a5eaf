"""HTTPS through a real Envoy: certificates chosen by SNI and delivered over SDS, and a
certificate rotation that reaches clients without restarting Envoy or failing a request."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
from cryptography import x509

from propylon.ir import model as ir
from propylon.xds.translate import SECRET, translate
from tests.certificates import self_signed
from xds_support import BackendFactory, EnvoyFactory, XdsFixture, free_port, wait_for

NODE = "default/tls"


def tls_gateway(port: int, backend_port: int, certs: dict[str, tuple[str, str]]) -> ir.GatewayIR:
    chains = tuple(ir.TLSFilterChain(f"https/{host}", (host,), (f"default/{host}",), f"rc-{host}")
                   for host in sorted(certs))
    configs = tuple(ir.RouteConfig(f"rc-{host}", (ir.VirtualHost(host, (host,), (
        ir.Route(f"r-{host}", ir.RouteMatch(), backends=(ir.WeightedBackend("ns/app/80", 1),)),
    )),)) for host in sorted(certs))
    return ir.GatewayIR(
        key=ir.GatewayKey("default", "tls"),
        listeners=(ir.Listener("https", "127.0.0.1", port, port, "HTTPS", tls_chains=chains),),
        route_configs=configs,
        clusters=(ir.Cluster("ns/app/80", (ir.Endpoint("127.0.0.1", backend_port),)),),
        secrets=tuple(ir.Secret(f"default/{host}", cert, key)
                      for host, (cert, key) in sorted(certs.items())),
    )


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def served_serial(port: int, sni: str) -> int:
    """The serial number of the certificate Envoy presents for `sni`."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(),
                                              server_hostname=sni)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return x509.load_der_x509_certificate(der).serial_number


async def test_sni_certificates_and_rotation_without_restart(
        xds: XdsFixture, envoy_factory: EnvoyFactory, backend_factory: BackendFactory) -> None:
    backend = await backend_factory("app")
    port = free_port()
    certs = {"a.example.com": self_signed("a.example.com", serial=1001),
             "b.example.com": self_signed("b.example.com", serial=2001)}
    xds.cache.set(NODE, translate(tls_gateway(port, backend, certs)))
    envoy = await envoy_factory(NODE, xds.port)

    async def up() -> bool:
        try:
            return await served_serial(port, "a.example.com") == 1001
        except OSError:
            return False

    await wait_for(up, what="HTTPS listener")
    assert await served_serial(port, "b.example.com") == 2001
    url = f"https://127.0.0.1:{port}/"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, ssl=client_context(), server_hostname="b.example.com",
                               headers={"Host": "b.example.com"}) as response:
            assert (response.status, await response.text()) == (200, "app")

        failures: list[str] = []
        ok = 0
        stop = asyncio.Event()

        async def hammer() -> None:
            nonlocal ok
            while not stop.is_set():
                try:
                    async with aiohttp.ClientSession() as fresh, fresh.get(
                            url, ssl=client_context(), server_hostname="a.example.com",
                            headers={"Host": "a.example.com"}) as response:
                        if response.status == 200:
                            ok += 1
                        else:
                            failures.append(str(response.status))
                except (aiohttp.ClientError, OSError) as error:
                    failures.append(repr(error))

        loop = asyncio.create_task(hammer())
        sds_pushes = xds.server.counters(NODE).pushes[SECRET]
        pushes_before = dict(xds.server.counters(NODE).pushes)
        rotated = {**certs, "a.example.com": self_signed("a.example.com", serial=1002)}
        xds.cache.set(NODE, translate(tls_gateway(port, backend, rotated)))

        async def rotated_served() -> bool:
            return await served_serial(port, "a.example.com") == 1002

        await wait_for(rotated_served, what="rotated certificate")
        start = ok
        await wait_for(lambda: _true(ok > start + 5), what="requests after rotation")
        stop.set()
        await loop
        assert failures == []
        assert envoy.process.returncode is None
        pushes = dict(xds.server.counters(NODE).pushes)
        assert pushes[SECRET] == sds_pushes + 1
        assert {t: n for t, n in pushes.items() if n != pushes_before.get(t)} == {
            SECRET: sds_pushes + 1}
        assert await served_serial(port, "b.example.com") == 2001


async def _true(value: bool) -> bool:
    return value
