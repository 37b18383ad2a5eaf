"""`CertManager` against the embedded API server: Secrets created once, shared, rotated when due."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import pytest

from propylon import pki
from propylon.apiserver import APIServer
from propylon.client import KubeClient, load_client
from propylon.controller.certs import CA_SECRET, SECRET, SERVER_SECRET, CertManager, decode
from tests.controller.helpers import eventually, proxy_certificate

HOSTS = ["propylon-xds.default.svc", "127.0.0.1"]
DUE = pki.Policy(ca_validity=datetime.timedelta(days=1), renew_fraction=1.0)  # always due


async def secret(kube_client: KubeClient, name: str) -> dict[str, bytes]:
    return decode(dict(await kube_client.get(SECRET, name, namespace="default")))


async def test_replicas_racing_share_one_ca(kube_client: KubeClient) -> None:
    first, second = await asyncio.gather(CertManager(kube_client, "default", HOSTS).ensure(),
                                         CertManager(kube_client, "default", HOSTS).ensure())
    assert first == second
    ca = await secret(kube_client, CA_SECRET)
    assert pki.signed_by(first.cert, ca["tls.crt"])
    assert sorted(pki.server_hosts(first.cert)) == sorted(HOSTS)
    assert first.client_ca == ca["ca.crt"]


async def test_restart_reuses_and_renewal_rotates(kube_client: KubeClient) -> None:
    manager = CertManager(kube_client, "default", HOSTS)
    material = await manager.ensure()
    assert await CertManager(kube_client, "default", HOSTS).ensure() == material
    issued = proxy_certificate(manager, "default/gw")
    ca = await secret(kube_client, CA_SECRET)
    assert pki.signed_by(issued["tls.crt"], ca["tls.crt"]) and issued["ca.crt"] == ca["ca.crt"]

    old_ca = (await secret(kube_client, CA_SECRET))["tls.crt"]
    rotating = CertManager(kube_client, "default", HOSTS, DUE, stage_s=0)
    staged = await rotating.ensure()  # the next CA is only published
    assert (await secret(kube_client, CA_SECRET))["tls.crt"] == old_ca
    assert pki.signed_by(staged.cert, old_ca)
    rotated = await rotating.ensure()  # and signs once its stage is over
    new_ca = (await secret(kube_client, CA_SECRET))["tls.crt"]
    assert new_ca != old_ca
    assert pki.signed_by(rotated.cert, new_ca)
    assert rotated.client_ca.count(b"BEGIN CERTIFICATE") == 2  # the old CA stays trusted
    assert (await secret(kube_client, SERVER_SECRET))["tls.crt"] == rotated.cert

    await manager.ensure()  # picks up the new CA: client certificates are signed by it
    assert pki.signed_by(proxy_certificate(manager, "default/gw")["tls.crt"], new_ca)


async def test_changed_hosts_reissue_the_server_certificate(
        kube_client: KubeClient) -> None:
    await CertManager(kube_client, "default", HOSTS).ensure()
    material = await CertManager(kube_client, "default", ["xds.example"]).ensure()
    assert pki.server_hosts(material.cert) == ["xds.example"]




async def test_checks_go_on_while_the_api_is_unreachable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = APIServer(tmp_path / "api2")
    await server.start()
    client = load_client(server.kubeconfig_path)
    manager = CertManager(client, "default", HOSTS, check_s=0.05)
    await manager.ensure()
    await server.stop()  # the next checks fail
    checked = asyncio.Event()
    task = asyncio.create_task(manager.run(lambda _: checked.set()))
    try:
        await eventually(lambda: "xDS certificate check failed" in caplog.text, "a failed check")
        server = APIServer(tmp_path / "api2")
        await server.start()  # same state and port: the checks succeed again
        await asyncio.wait_for(checked.wait(), 30)
    finally:
        task.cancel()
        await client.close()
        await server.stop()
