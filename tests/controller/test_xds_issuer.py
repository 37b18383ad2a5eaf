"""The proxies' identity flow against the embedded API server: a projected ServiceAccount token
(TokenRequest) traded by the agent at the controller's certificate endpoint, which checks it with
a TokenReview. A token of the Gateway's ServiceAccount gets a certificate naming that Gateway;
another ServiceAccount's token, a token for another audience, one of a deleted (or re-created)
ServiceAccount, and no token at all are refused with the reason; an expired token is refused."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography import x509

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
        def issue_client(self, node_id: str) -> dict[str, bytes]:
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
