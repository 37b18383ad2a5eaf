"""xDS over mutual TLS: a proxy is served only with a certificate naming the node it announces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.service.discovery.v3 import ads_pb2_grpc
from envoy.service.discovery.v3.discovery_pb2 import DeltaDiscoveryRequest

from propylon import pki
from propylon.xds.server import MutualTls, ServerMaterial, SnapshotCache, XdsServer
from propylon.xds.translate import CLUSTER, XdsResources
from tests.certificates import proxy_client

POLICY = pki.Policy()


@pytest.fixture
async def server() -> AsyncIterator[tuple[XdsServer, int, pki.KeyPair]]:
    ca = pki.new_ca(POLICY)
    cert = pki.issue_server(ca, ["127.0.0.1", "propylon-xds"], POLICY)
    cache = SnapshotCache()
    cache.set("default/gw-a", XdsResources({}, {}, {"c": Cluster(name="c")}, {}, {}))
    xds = XdsServer(cache)
    port = await xds.start("127.0.0.1", 0, tls=MutualTls(ServerMaterial(cert.cert, cert.key,
                                                                          ca.cert)))
    yield xds, port, ca
    await xds.stop(0)


async def first_response(port: int, ca: bytes, client: pki.KeyPair | None, node: str) -> str:
    creds = grpc.ssl_channel_credentials(ca, client.key if client else None,
                                         client.cert if client else None)
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", creds) as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        request = DeltaDiscoveryRequest(type_url=CLUSTER)
        request.node.id = node
        call = stub.DeltaAggregatedResources(iter([request]))
        async for response in call:
            return str(response.type_url)
    raise AssertionError("the stream ended without a response")


async def test_the_gateway_certificate_gets_its_node(server: tuple[XdsServer, int, pki.KeyPair]
                                                     ) -> None:
    _, port, ca = server
    client = proxy_client(ca, "default/gw-a", POLICY)
    assert await first_response(port, ca.cert, client, "default/gw-a") == CLUSTER


async def test_another_gateways_certificate_is_refused(
        server: tuple[XdsServer, int, pki.KeyPair], caplog: pytest.LogCaptureFixture) -> None:
    _, port, ca = server
    client = proxy_client(ca, "default/gw-b", POLICY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await first_response(port, ca.cert, client, "default/gw-a")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "xDS stream refused: node 'default/gw-a' presented a certificate for " \
           "Gateway 'default/gw-b'" in caplog.text


async def test_no_client_certificate_no_connection(
        server: tuple[XdsServer, int, pki.KeyPair]) -> None:
    _, port, ca = server
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await first_response(port, ca.cert, None, "default/gw-a")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_foreign_ca_is_not_trusted(server: tuple[XdsServer, int, pki.KeyPair]) -> None:
    _, port, ca = server
    client = proxy_client(pki.new_ca(POLICY), "default/gw-a", POLICY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await first_response(port, ca.cert, client, "default/gw-a")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rotated_server_material_serves_new_connections(
        server: tuple[XdsServer, int, pki.KeyPair]) -> None:
    xds, port, _ = server
    new_ca = pki.new_ca(POLICY)
    cert = pki.issue_server(new_ca, ["127.0.0.1"], POLICY)
    assert xds.tls is not None
    xds.tls.update(ServerMaterial(cert.cert, cert.key, new_ca.cert))
    client = proxy_client(new_ca, "default/gw-a", POLICY)
    assert await first_response(port, new_ca.cert, client, "default/gw-a") == CLUSTER


def test_renewal_policy() -> None:
    ca = pki.new_ca(POLICY)
    fresh = proxy_client(ca, "default/gw-a", POLICY)
    assert not pki.needs_renewal(fresh.cert, POLICY, ca.cert)
    assert pki.needs_renewal(fresh.cert, POLICY, pki.new_ca(POLICY).cert)
    assert pki.needs_renewal(fresh.cert, pki.Policy(renew_fraction=1.0), ca.cert)
    old = pki.new_ca(POLICY)
    bundle = pki.trust_bundle(ca.cert, pki.trust_bundle(old.cert))
    assert bundle.count(b"BEGIN CERTIFICATE") == 2
