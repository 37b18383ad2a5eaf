"""The proxies' identity flow against the embedded API server: a projected ServiceAccount token
(TokenRequest) and a certificate signing request of a key made in the pod, traded by the agent at
the controller's certificate endpoint, which checks the token with a TokenReview and the request's
signature and key. A token of the Gateway's ServiceAccount gets a certificate of its key naming
that Gateway, whatever the request asks for, and no private key; a request with a bad signature,
a weak key, garbage or an oversized body is refused naming why;
another ServiceAccount's token, a token for another audience, one of a deleted (or re-created)
ServiceAccount, and no token at all are refused with the reason; an expired token is refused."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from propylon import pki
from propylon.apiserver import tokens
from propylon.controller import issuer
from propylon.controller.certs import CertManager
from propylon.controller.issuer import CertificateEndpoint
from propylon.infra.kubernetes import agent
from propylon.infra.kubernetes.resources import object_name
from propylon.ir.model import GatewayKey
from tests.controller.conftest import Api

KEY = GatewayKey("default", "web")
ACCOUNT = object_name(KEY)  # propylon-web


class Gateways:
    """The controller's view: Gateway default/web's proxies run as propylon-web."""

    synced = True

    def gateway_of(self, namespace: str, service_account: str) -> GatewayKey | None:
        return KEY if (namespace, service_account) == (KEY.namespace, ACCOUNT) else None


@dataclass
class Flow:
    api: Api
    ca: bytes
    url: str
    tmp: Path
    gateways: Gateways

    async def account(self, name: str) -> None:
        await self.api.put({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": name, "namespace": "default"}})

    async def token(self, account: str, audience: str = agent.AUDIENCE) -> str:
        """A TokenRequest, as the kubelet makes for a projected token volume."""
        state = self.api.server.state_dir
        context = ssl.create_default_context(cafile=str(state / "ca.crt"))
        headers = {"Authorization": f"Bearer {(state / 'token').read_text().strip()}"}
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": 600}}
        async with aiohttp.ClientSession() as session, session.post(
                f"{self.api.server.url}/api/v1/namespaces/default/serviceaccounts/{account}"
                "/token", json=body, headers=headers, ssl=context) as resp:
            assert resp.status == 201, await resp.text()
            answer: dict[str, Any] = await resp.json()
        return str(answer["status"]["token"])

    async def post(self, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """A raw request to the endpoint: its status and JSON answer."""
        context = ssl.create_default_context(cadata=self.ca.decode())
        async with aiohttp.ClientSession() as session, session.post(
                self.url, data=body, ssl=context,
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"}) as resp:
            return resp.status, await resp.json()

    async def fetch(self, token: str) -> dict[str, bytes]:
        """The agent's request, with `token` in its token file."""
        (self.tmp / "token").write_text(token)
        (self.tmp / "ca.crt").write_bytes(self.ca)
        config = agent.AgentConfig(self.url, self.tmp / "token", self.tmp / "ca.crt",
                                   self.tmp / "certs")
        return await asyncio.to_thread(agent.fetch, config)


@pytest.fixture
async def flow(api: Api, tmp_path: Path) -> AsyncIterator[Flow]:
    certs = CertManager(api.client, "default", ["127.0.0.1"])
    material = await certs.ensure()
    gateways = Gateways()
    endpoint = CertificateEndpoint(api.client, certs, gateways)
    port = await endpoint.start("127.0.0.1", 0, material)
    yield Flow(api, material.client_ca, f"https://127.0.0.1:{port}{agent.ISSUER_PATH}", tmp_path,
               gateways)
    await endpoint.stop()


async def test_the_gateways_token_gets_a_certificate_naming_the_gateway(flow: Flow) -> None:
    await flow.account(ACCOUNT)
    issued = await flow.fetch(await flow.token(ACCOUNT))
    cert = x509.load_pem_x509_certificate(issued["tls.crt"])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [pki.gateway_uri(str(KEY))]
    assert pki.signed_by(issued["tls.crt"], flow.ca) and issued["ca.crt"] == flow.ca
    (flow.tmp / "certs").mkdir()  # the emptyDir
    agent.write(flow.tmp / "certs", issued)  # and the agent holds it: nothing is due
    assert agent.due(flow.tmp / "certs", flow.tmp / "ca.crt") is None


def public(pem: bytes) -> bytes:
    """The public key (DER) of a certificate, a request or a private key (PEM)."""
    key: Any
    if b"PRIVATE KEY" in pem:
        key = pki.private_key(pem).public_key()
    elif b"REQUEST" in pem:
        key = x509.load_pem_x509_csr(pem).public_key()
    else:
        key = x509.load_pem_x509_certificate(pem).public_key()
    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def csr_body(csr: bytes) -> bytes:
    return json.dumps({"csr": csr.decode()}).encode()


async def test_the_answer_is_a_certificate_of_the_pods_key_and_no_private_key(
        flow: Flow) -> None:
    await flow.account(ACCOUNT)
    key = pki.new_key()
    status, answer = await flow.post(await flow.token(ACCOUNT), csr_body(pki.request(key)))
    assert status == 200, answer
    assert set(answer) == {"certificate", "caBundle"}
    assert "PRIVATE KEY" not in json.dumps(answer)
    assert public(answer["certificate"].encode()) == public(key)
    issued = await flow.fetch(await flow.token(ACCOUNT))  # the agent keeps the key it made
    assert public(issued["tls.crt"]) == public(issued["tls.key"])
    again = await flow.fetch(await flow.token(ACCOUNT))  # and makes a new one at each renewal
    assert public(again["tls.key"]) != public(issued["tls.key"])


async def test_the_identity_is_the_gateways_whatever_the_request_asks_for(flow: Flow) -> None:
    await flow.account(ACCOUNT)
    key = pki.new_key()
    other = "spiffe://propylon/gateway/kube-system/admin"
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-system/admin")]))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(other)]),
                          critical=False)
           .sign(pki.private_key(key), hashes.SHA256()))
    status, answer = await flow.post(await flow.token(ACCOUNT),
                                     csr_body(csr.public_bytes(serialization.Encoding.PEM)))
    assert status == 200, answer
    cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [pki.gateway_uri(str(KEY))]
    assert cert.subject.rfc4514_string() == f"CN={KEY}"


def bad_signature() -> bytes:
    der = bytearray(x509.load_pem_x509_csr(pki.request(pki.new_key())).public_bytes(
        serialization.Encoding.DER))
    der[-3] ^= 0x01  # in the ECDSA signature, the last field
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)


def rsa_1024() -> bytes:
    key = rsa.generate_private_key(65537, 1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(
        key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(("body", "message"), [
    (lambda: csr_body(bad_signature()), "signature does not verify"),
    (lambda: csr_body(rsa_1024()), "RSA key has 1024 bits, fewer than 2048"),
    (lambda: csr_body(b"-----BEGIN CERTIFICATE REQUEST-----\ngarbage\n"),
     "not a PEM certificate signing request"),
    (lambda: b"not json", 'send the certificate signing request as JSON {"csr"'),
    (lambda: b"{}", 'send the certificate signing request as JSON {"csr"'),
])
async def test_a_request_not_accepted_is_400_naming_why(
        flow: Flow, body: Callable[[], bytes], message: str) -> None:
    await flow.account(ACCOUNT)
    status, answer = await flow.post(await flow.token(ACCOUNT), body())
    assert status == 400 and message in answer["error"], answer


async def test_a_body_over_the_bound_is_refused(flow: Flow) -> None:
    await flow.account(ACCOUNT)
    status, answer = await flow.post(await flow.token(ACCOUNT),
                                     csr_body(b"x" * issuer.MAX_BODY))
    assert status == 413 and f"larger than {issuer.MAX_BODY} bytes" in answer["error"]


async def test_another_service_accounts_token_is_refused(flow: Flow) -> None:
    await flow.account("intruder")
    with pytest.raises(agent.FetchError, match="403: ServiceAccount default/intruder runs no "
                                               "Gateway's proxies"):
        await flow.fetch(await flow.token("intruder"))


async def test_before_the_gateways_are_read_the_agent_is_told_to_retry(flow: Flow) -> None:
    flow.gateways.synced = False
    await flow.account("not-known-yet")
    with pytest.raises(agent.FetchError, match="503: the controller has not read the Gateways"):
        await flow.fetch(await flow.token("not-known-yet"))


async def test_a_token_for_another_audience_is_refused(flow: Flow) -> None:
    await flow.account(ACCOUNT)
    with pytest.raises(agent.FetchError, match=r"401: .*audience \['https://kubernetes"):
        await flow.fetch(await flow.token(ACCOUNT, audience=tokens.API_AUDIENCE))


async def test_the_token_of_a_deleted_or_recreated_service_account_is_refused(
        flow: Flow) -> None:
    await flow.account(ACCOUNT)
    token = await flow.token(ACCOUNT)
    await flow.api.delete({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": ACCOUNT, "namespace": "default"}})
    with pytest.raises(agent.FetchError, match=f"401: .*ServiceAccount default/{ACCOUNT} "
                                               "does not exist"):
        await flow.fetch(token)
    await flow.account(ACCOUNT)
    with pytest.raises(agent.FetchError, match="401: .*re-created"):
        await flow.fetch(token)


async def test_a_request_without_a_token_or_with_a_forged_one_is_refused(flow: Flow) -> None:
    with pytest.raises(agent.FetchError, match="401: send the proxy's ServiceAccount token"):
        await flow.fetch("")
    await flow.account(ACCOUNT)
    head, body, _ = (await flow.token(ACCOUNT)).split(".")
    with pytest.raises(agent.FetchError, match="401: .*invalid signature"):
        await flow.fetch(f"{head}.{body}.{'A' * 43}")


def test_an_expired_token_is_refused() -> None:
    key = b"k" * 32
    request = {"spec": {"audiences": [agent.AUDIENCE], "expirationSeconds": 600}}
    token = tokens.issue(key, "default", ACCOUNT, "uid-1", request, now=1000)["status"]["token"]
    review = {"spec": {"token": token, "audiences": [agent.AUDIENCE]}}
    def uid_of(namespace: str, name: str) -> str:
        return "uid-1"
    assert tokens.review(key, review, 1599, uid_of)["status"]["authenticated"] is True
    assert tokens.review(key, review, 1600, uid_of)["status"] == {
        "authenticated": False, "error": "token rejected: expired"}


@pytest.mark.parametrize(("seconds", "message"), [
    ("an hour", "must be an integer"), (60, "less than 10 minutes"),
    (2**40, "larger than 2^32 seconds")])
async def test_a_token_request_of_a_bad_lifetime_is_invalid(flow: Flow, seconds: object,
                                                            message: str) -> None:
    """As kube-apiserver answers: 422 naming spec.expirationSeconds, not a server error."""
    await flow.account(ACCOUNT)
    state = flow.api.server.state_dir
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [agent.AUDIENCE], "expirationSeconds": seconds}}
    async with aiohttp.ClientSession() as session, session.post(
            f"{flow.api.server.url}/api/v1/namespaces/default/serviceaccounts/{ACCOUNT}/token",
            json=body, ssl=ssl.create_default_context(cafile=str(state / "ca.crt")),
            headers={"Authorization": f"Bearer {(state / 'token').read_text().strip()}"}) as resp:
        answer = await resp.json()
    assert resp.status == 422, answer
    assert "spec.expirationSeconds" in answer["message"] and message in answer["message"]


async def test_requests_over_the_bound_are_told_to_retry_at_once() -> None:
    """Anyone reaching the endpoint makes it ask the cluster: at most `MAX_IN_FLIGHT` at a
    time, the others answered 503 without a TokenReview."""
    release, reviews = asyncio.Event(), []

    class SlowCluster:
        async def create(self, review: object) -> dict[str, Any]:
            reviews.append(review)
            await release.wait()
            return {"status": {"authenticated": False, "error": "unknown token"}}

    class NoCertificates:
        def sign_client(self, node_id: str, csr: bytes) -> dict[str, bytes]:
            raise AssertionError("no token here is accepted")

    endpoint = CertificateEndpoint(SlowCluster(), NoCertificates(), Gateways())  # type: ignore[arg-type]
    def ask() -> web.Request:
        return make_mocked_request("POST", agent.ISSUER_PATH,
                                   headers={"Authorization": "Bearer forged"})
    waiting = [asyncio.create_task(endpoint.handle(ask())) for _ in range(issuer.MAX_IN_FLIGHT)]
    while len(reviews) < issuer.MAX_IN_FLIGHT:
        await asyncio.sleep(0)
    refused = await endpoint.handle(ask())
    assert refused.status == 503 and b"retry" in refused.body  # type: ignore[operator]
    assert len(reviews) == issuer.MAX_IN_FLIGHT
    release.set()
    assert {(await task).status for task in waiting} == {401}
    assert (await endpoint.handle(ask())).status == 401  # the slots are free again
