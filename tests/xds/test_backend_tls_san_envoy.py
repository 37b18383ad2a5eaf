"""BackendTLSPolicy subjectAltNames through a real Envoy (the BackendTLSPolicySANValidation
feature): one TLS backend whose certificate carries the DNS name abc.example.com and a URI
SAN, reached through one Service per policy. A policy whose Hostname or URI SAN (or, with no
subjectAltNames, whose hostname) the certificate carries is served (200); one whose names the
certificate does not carry fails with a 5xx, however the SNI is set."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from gateway_api_support import NODE, Stack, route, service
from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.conformance.tlsmaterial import issue

HOST = "abc.example.com"
URI = "spiffe://abc.example.com/ns/default/sa/backend"
# policy name -> (validation.hostname, validation.subjectAltNames, served?)
POLICIES: dict[str, tuple[str, list[dict[str, str]], bool]] = {
    "san-dns": (HOST, [{"type": "Hostname", "hostname": HOST}], True),
    "san-dns-mismatch": (HOST, [{"type": "Hostname", "hostname": "other.example.com"}], False),
    "san-uri": (HOST, [{"type": "URI", "uri": URI}], True),
    "san-uri-mismatch": (HOST, [{"type": "URI", "uri": "spiffe://other.example.com/x"}], False),
    "multiple-sans": (HOST, [{"type": "Hostname", "hostname": "other.example.com"},
                             {"type": "URI", "uri": URI}], True),
    "multiple-mismatch-sans": (HOST, [{"type": "Hostname", "hostname": "nope.example.com"},
                                      {"type": "URI", "uri": "spiffe://nope.example.com/x"}],
                               False),
    "hostname-only": (HOST, [], True),
    "hostname-only-mismatch": ("other.example.com", [], False),
}


@pytest.fixture
async def tls_backend(tmp_path: Path) -> AsyncIterator[tuple[int, str]]:
    """An HTTPS backend answering 200 `tls`; yields its port and its CA's PEM."""
    ca = issue("backend-ca", ca=True)
    leaf = issue(HOST, (HOST, URI), ca)
    (tmp_path / "tls.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(leaf.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="tls")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield port, ca.cert_pem.decode()
    finally:
        await runner.cleanup()


def _objects(backend_port: int, ca_pem: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca", "namespace": "default"},
         "data": {"ca.crt": ca_pem}}]
    rules = []
    for name, (hostname, sans, _) in POLICIES.items():
        objects += service(name, backend_port, port=443)
        validation: dict[str, Any] = {"caCertificateRefs": [{"group": "", "kind": "ConfigMap",
                                                             "name": "ca"}],
                                      "hostname": hostname}
        if sans:
            validation["subjectAltNames"] = sans
        objects.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
                        "metadata": {"name": name, "namespace": "default", "generation": 1},
                        "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": name}],
                                 "validation": validation}})
        rules.append({"matches": [{"path": {"type": "PathPrefix", "value": f"/{name}"}}],
                      "backendRefs": [{"name": name, "port": 443}]})
    return [*objects, route("san", {"rules": rules})]


async def test_subject_alt_names_decide_which_backends_are_served(
        xds: XdsFixture, envoy_factory: EnvoyFactory, tls_backend: tuple[int, str]) -> None:
    stack = Stack(objects=_objects(*tls_backend))
    result = stack.program(xds)
    accepted = {s.name: s.status.to_json()["ancestors"][0]["conditions"][0]
                for s in result.statuses if s.kind == "BackendTLSPolicy"}
    assert {n: (a["type"], a["status"]) for n, a in accepted.items()} == {
        n: ("Accepted", "True") for n in POLICIES}
    await envoy_factory(NODE, xds.port)
    url = f"http://127.0.0.1:{stack.port()}"
    async with aiohttp.ClientSession() as session:
        async def status(name: str) -> int:
            async with session.get(f"{url}/{name}", headers={"Host": HOST}) as response:
                return response.status

        async def served() -> bool:
            try:
                return await status("san-dns") == 200
            except aiohttp.ClientError:
                return False

        await wait_for(served, what="the backend reached over TLS")
        codes = {name: await status(name) for name in POLICIES}
    assert {n: code == 200 for n, code in codes.items()} == {
        n: served for n, (_, _, served) in POLICIES.items()}
    assert all(code >= 500 for n, code in codes.items() if not POLICIES[n][2]), codes
