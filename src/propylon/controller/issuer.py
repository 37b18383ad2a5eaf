"""The xDS certificate endpoint: a proxy trades its ServiceAccount token and a certificate
signing request for its client certificate.

A proxy pod's agent (`infra.kubernetes.agent`) sends `POST /v1/xds-certificate` (`ISSUER_PATH`) with its
projected ServiceAccount token (audience `AUDIENCE`) as `Authorization: Bearer <token>` and the
body JSON `{"csr": <PEM>}` (at most `MAX_BODY` bytes: a request of the key it made), over TLS
with the xDS server's certificate (the agent verifies it with the CA bundle from its Gateway's
ConfigMap; no client certificate: this is how a proxy gets its first one). The endpoint:

1. asks the cluster who the token is (a TokenReview, `authentication.k8s.io/v1`, with the
   audience `AUDIENCE`: the API server checks signature, expiry, audience and that the
   ServiceAccount still exists);
2. maps `system:serviceaccount:<namespace>:<name>` to the one Gateway whose proxies run as that
   ServiceAccount (`Identities.gateway_of`: `propylon-<gateway>` in the Gateway's namespace, a
   Gateway this controller provisions);
3. signs the request's key for that Gateway (`CertManager.sign_client`, after
   `pki.requested_key` checked the request's signature and key) and answers JSON
   `{"certificate", "caBundle"}` (PEM): no private key travels. The SAN URI names the Gateway,
   whatever subject or names the request asks for, so the xDS server serves that proxy only its
   Gateway's configuration.

A refusal is JSON `{"error": ...}`: 401 without a bearer token or when TokenReview does not
authenticate it (its reason), 403 for a ServiceAccount that is no Gateway's, 400 for a body that
is not a request accepted (naming why), 413 for a body over `MAX_BODY`, 503 while the cluster
cannot be asked or the controller has not read the Gateways yet, and at once, without asking
the cluster, while `MAX_IN_FLIGHT` requests are being answered (anyone who reaches the endpoint
makes it ask the API server). The TLS material follows the xDS server's rotation (`update()`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Protocol

from aiohttp import web

from propylon import pki
from propylon.api.kinds import KindInfo
from propylon.apiserver.tokens import REVIEW_GROUP, SUBJECT_PREFIX
from propylon.client import KubeClient, KubeError, KubeUnreachable, resource_class
from propylon.infra.kubernetes.agent import AUDIENCE, ISSUER_PATH
from propylon.ir.model import GatewayKey
from propylon.xds.server.tls import ServerMaterial

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8  # requests answered at a time (each a TokenReview and a signature)
MAX_BODY = 16 * 1024  # a P-256 request is under 1 KiB, an RSA-4096 one under 4 KiB
TOKEN_REVIEW = KindInfo(REVIEW_GROUP, "v1", "TokenReview", "tokenreviews",
                        "tokenreview", False)


class Identities(Protocol):
    """Which Gateway's proxies run as a ServiceAccount (`KubernetesInfra`)."""

    def gateway_of(self, namespace: str, service_account: str) -> GatewayKey | None: ...

    @property
    def synced(self) -> bool:
        """Whether the wanted Gateways are known yet (before, every answer would be None)."""


class ClientIssuer(Protocol):
    """Signs a Gateway's client certificate (`controller.certs.CertManager`)."""

    def sign_client(self, node_id: str, csr: bytes) -> dict[str, bytes]: ...


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CertificateEndpoint:
    """The endpoint of the module docstring."""

    def __init__(self, client: KubeClient, certs: ClientIssuer, identities: Identities,
                 audience: str = AUDIENCE) -> None:
        self._client = client
        self._certs = certs
        self._identities = identities
        self._audience = audience
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._dir = tempfile.TemporaryDirectory(prefix="propylon-issuer-")  # mode 0700
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._runner: web.AppRunner | None = None

    async def gateway(self, token: str) -> GatewayKey:
        """The Gateway whose proxies hold `token`, else `Refused`."""
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": token, "audiences": [self._audience]}}
        try:
            answer = await self._client.create(resource_class(TOKEN_REVIEW)(review))
        except (KubeError, KubeUnreachable, OSError) as err:
            raise Refused(503, f"the token could not be reviewed: {err}; retry") from err
        status = answer.get("status") or {}
        if not status.get("authenticated") or self._audience not in (status.get("audiences")
                                                                     or []):
            raise Refused(401, "the ServiceAccount token was not accepted: "
                          f"{status.get('error') or 'not authenticated'} (mount a projected "
                          f"token with audience {self._audience})")
        username = str((status.get("user") or {}).get("username") or "")
        namespace, _, name = username.removeprefix(SUBJECT_PREFIX).partition(":")
        if not username.startswith(SUBJECT_PREFIX) or not name:
            raise Refused(403, f"{username!r} is not a ServiceAccount")
        key = self._identities.gateway_of(namespace, name)
        if key is None and not self._identities.synced:
            raise Refused(503, "the controller has not read the Gateways yet; retry")
        if key is None:
            raise Refused(403, f"ServiceAccount {namespace}/{name} runs no Gateway's proxies: "
                          "only the ServiceAccount propylon-<gateway> the controller made for a "
                          "Gateway it provisions gets that Gateway's xDS certificate")
        return key

    async def handle(self, request: web.Request) -> web.Response:
        if self._slots.locked():
            log.warning("xDS certificate refused: %d requests in flight", MAX_IN_FLIGHT)
            return web.json_response({"error": "too many certificate requests at once; retry"},
                                     status=503)
        async with self._slots:
            return await self._answer(request)

    async def _answer(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused(401, "send the proxy's ServiceAccount token as "
                              "'Authorization: Bearer <token>'")
            key = await self.gateway(token.strip())
            csr = await _csr(request)
            try:
                issued = self._certs.sign_client(str(key), csr)
            except pki.CsrError as err:
                raise Refused(400, f"the certificate signing request was refused: {err}") from err
        except Refused as err:
            log.warning("xDS certificate refused: %s", err.message)
            return web.json_response({"error": err.message}, status=err.status)
        return web.json_response({"certificate": issued["tls.crt"].decode(),
                                  "caBundle": issued["ca.crt"].decode()})

    def update(self, material: ServerMaterial) -> None:
        """Serve `material` from the next handshake on."""
        cert, key = Path(self._dir.name, "tls.crt"), Path(self._dir.name, "tls.key")
        cert.write_bytes(material.cert)
        key.write_bytes(material.key)  # in a directory of mode 0700
        self._context.load_cert_chain(cert, key)

    async def start(self, host: str, port: int, material: ServerMaterial) -> int:
        """Serve on host:port (0: any free port); the port."""
        self.update(material)
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(ISSUER_PATH, self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.create_server((host, port), reuse_port=False)
        await web.SockSite(self._runner, sock, ssl_context=self._context).start()
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._dir.cleanup()


async def _csr(request: web.Request) -> bytes:
    """The PEM request of the body `{"csr": <PEM>}`, else `Refused` (413 over `MAX_BODY`)."""
    too_large = Refused(413, f"the body is larger than {MAX_BODY} bytes: send only the "
                        "certificate signing request")
    if (request.content_length or 0) > MAX_BODY:
        raise too_large
    try:
        body = json.loads(await request.read())
    except web.HTTPRequestEntityTooLarge as err:
        raise too_large from err
    except ValueError:
        body = None
    csr = body.get("csr") if isinstance(body, dict) else None
    if not isinstance(csr, str) or not csr.strip():
        raise Refused(400, 'send the certificate signing request as JSON {"csr": "<PEM>"}')
    return csr.encode()
