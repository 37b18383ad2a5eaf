"""A CA rotation staged across two replicas: a proxy reconnecting to the replica that has not
checked yet is served at every step, with the certificate and bundle the rotating replica gave
it."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from envoy.config.cluster.v3.cluster_pb2 import Cluster

from propylon import pki
from propylon.client import KubeClient
from propylon.controller.certs import CertManager
from propylon.xds.server import MutualTls, SnapshotCache, XdsServer
from propylon.xds.translate import CLUSTER, XdsResources
from tests.controller.helpers import proxy_certificate
from tests.controller.test_xds_mtls import first_response

HOSTS = ["propylon-xds.default.svc", "127.0.0.1"]
NODE = "default/gw"
DUE = pki.Policy(ca_validity=datetime.timedelta(days=1), renew_fraction=1.0)  # always due


@dataclass
class Replica:
    certs: CertManager
    tls: MutualTls
    xds: XdsServer
    port: int

    async def check(self) -> None:
        """What a periodic check does: converge the Secrets, serve the new material."""
        self.tls.update(await self.certs.ensure())


async def replica(client: KubeClient, policy: pki.Policy) -> Replica:
    certs = CertManager(client, "default", HOSTS, policy, stage_s=0)
    tls = MutualTls(await certs.ensure())
    cache = SnapshotCache()
    cache.set(NODE, XdsResources({}, {}, {"c": Cluster(name="c")}, {}, {}))
    xds = XdsServer(cache)
    return Replica(certs, tls, xds, await xds.start("127.0.0.1", 0, tls=tls))


@pytest.fixture
async def replicas(kube_client: KubeClient) -> AsyncIterator[tuple[Replica, Replica]]:
    pair = (await replica(kube_client, DUE), await replica(kube_client, pki.Policy()))
    yield pair
    for r in pair:
        await r.xds.stop(0)


async def connects(to: Replica, proxy: dict[str, bytes]) -> bool:
    client = pki.KeyPair(proxy["tls.crt"], proxy["tls.key"])
    return await first_response(to.port, proxy["ca.crt"], client, NODE) == CLUSTER


async def test_a_proxy_reconnects_to_the_other_replica_through_a_rotation(
        replicas: tuple[Replica, Replica]) -> None:
    rotating, other = replicas  # `rotating` finds the CA due; `other` has not checked since
    proxy = proxy_certificate(rotating.certs, NODE)
    first_ca = proxy["ca.crt"]
    assert await connects(other, proxy)

    await rotating.check()  # publishes the next CA
    proxy = proxy_certificate(rotating.certs, NODE)
    assert proxy["ca.crt"].count(b"BEGIN CERTIFICATE") == 2
    assert await connects(other, proxy) and await connects(rotating, proxy)

    await other.check()  # the other replica picks the bundle up at its next check
    await rotating.check()  # the stage is over: the next CA signs
    proxy = proxy_certificate(rotating.certs, NODE)
    assert await connects(other, proxy) and await connects(rotating, proxy)
    assert not pki.signed_by(proxy["tls.crt"], first_ca)  # signed by the new CA
