"""`CertManager`: the xDS certificates of Kubernetes mode, kept in Secrets and rotated.

In the controller's namespace it keeps two `kubernetes.io/tls` Secrets:

- `propylon-xds-ca`: the signing CA (`tls.crt`, `tls.key`), the trust bundle (`ca.crt`: every
  CA still valid that was or will be signing), and during a rotation the next CA (`next.crt`,
  `next.key`) with the time it was published (`next.since`, ISO 8601);
- `propylon-xds-server`: the xDS server's certificate for `server_hosts` (the xDS Service's DNS
  names and the address written into the proxies' bootstraps), and the bundle.

`ensure()` reads them, creates the missing ones and replaces those `pki.needs_renewal()` says
are due (or whose hosts changed), and returns the server material. Every replica runs it:
creations race through `create` (409 AlreadyExists: read the winner's) and replacements carry
the resourceVersion read (409 Conflict: read again), so replicas converge on one CA. `run()`
repeats it every `check_s`, hands new server material to the xDS server (`MutualTls.update`)
and calls the subscribers, so the infrastructure re-issues client certificates that are due.

A CA rotation is staged, so that a proxy never holds a certificate that a replica does not trust
yet (every replica serves xDS, and a proxy may reconnect to either): when the signing CA is due,
the next CA is first only *published*, added to the trust bundle; the replicas pick the bundle
up at their next check, re-issue the server certificate with it, the infrastructure writes the
bundle into the proxies' ConfigMaps and their agents fetch new certificates. Only when `stage_s` has passed since
(two checks plus the kubelet's sync, by default) does the next CA become the signing one, and
certificates are re-issued under it. A CA that is missing or unreadable (a first start, a
deleted Secret) is replaced at once: there is nothing to stage for.

`sign_client()` signs a Gateway's client certificate for the key of a proxy's certificate
signing request (`tls.crt`, `ca.crt`), for `controller.issuer`, which hands it to a proxy that
proved its ServiceAccount: the proxy's private key never leaves its pod, and the identity is
the Gateway's whatever the request asks for. Key material is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from collections.abc import Callable
from typing import Any

from propylon import pki
from propylon.api.kinds import by_kind
from propylon.client import KubeClient, KubeError, resource_class
from propylon.xds.server.tls import ServerMaterial

log = logging.getLogger(__name__)

CA_SECRET = "propylon-xds-ca"
SERVER_SECRET = "propylon-xds-server"
SECRET = resource_class(by_kind("Secret"))
TLS_TYPE = "kubernetes.io/tls"
TLS_KEYS = frozenset({"tls.crt", "tls.key", "ca.crt"})
NEXT_CERT, NEXT_KEY, NEXT_SINCE = "next.crt", "next.key", "next.since"
KUBELET_SYNC_S = 120.0  # how long the kubelet may take to update a mounted ConfigMap


def encode(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}


def decode(secret: dict[str, Any] | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}


def xds_service_hosts(service: str, namespace: str) -> list[str]:
    """The DNS names of the xDS Service in-cluster clients may dial."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc",
            f"{service}.{namespace}.svc.cluster.local"]


class CertManager:
    """The CA and xDS server certificate in Secrets; see the module docstring."""

    def __init__(self, client: KubeClient, namespace: str, server_hosts: list[str],
                 policy: pki.Policy | None = None, *, check_s: float = 3600.0,
                 stage_s: float | None = None) -> None:
        self._client = client
        self._namespace = namespace
        self._hosts = list(dict.fromkeys(server_hosts))
        self._policy = policy or pki.Policy()
        self._check_s = check_s
        self._stage_s = 2 * check_s + KUBELET_SYNC_S if stage_s is None else stage_s
        self._ca: pki.KeyPair | None = None
        self._bundle = b""
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every periodic check (client certificates may be due)."""
        self._subscribers.append(callback)

    async def ensure(self) -> ServerMaterial:
        """The server material, after creating or rotating what is missing or due."""
        ca_data = await self._converge(CA_SECRET, self._ca_due, self._new_ca)
        self._ca = pki.KeyPair(ca_data["tls.crt"], ca_data["tls.key"])
        self._bundle = ca_data["ca.crt"]
        server = await self._converge(SERVER_SECRET, self._server_due, self._new_server)
        return ServerMaterial(server["tls.crt"], server["tls.key"], self._bundle)

    async def run(self, on_material: Callable[[ServerMaterial], None]) -> None:
        """Check every `check_s` until cancelled; failures are logged and retried."""
        while True:
            await asyncio.sleep(self._check_s)
            try:
                on_material(await self.ensure())
            except Exception as err:  # noqa: BLE001 - the API unreachable: try at the next check
                log.warning("xDS certificate check failed: %s: %s; retrying in %.1fs",
                            type(err).__name__, _reason(err), self._check_s)
                continue
            for callback in list(self._subscribers):
                callback()

    def sign_client(self, node_id: str, csr: bytes) -> dict[str, bytes]:
        """A fresh client certificate of Gateway `node_id` for the key of `csr` (PEM):
        `tls.crt` and the trust bundle `ca.crt`; `pki.CsrError` for a request not accepted."""
        if self._ca is None:
            raise RuntimeError("CertManager.ensure() has not run")
        cert = pki.sign_client(self._ca, node_id, pki.requested_key(csr), self._policy)
        log.info("xDS client certificate issued gateway=%s", node_id)
        return {"tls.crt": cert, "ca.crt": self._bundle}

    @property
    def bundle(self) -> bytes:
        """The trust bundle (every CA that signs or will sign), for the proxies' ConfigMaps."""
        return self._bundle

    # -- one Secret ---------------------------------------------------------------------------

    def _ca_due(self, data: dict[str, bytes]) -> bool:
        """Missing, a published next CA whose stage is over, or a signing CA due (and no next
        CA published yet)."""
        if not TLS_KEYS <= data.keys():
            return True
        if {NEXT_CERT, NEXT_KEY} <= data.keys():
            return self._staged(data)
        return pki.needs_renewal(data["tls.crt"], self._policy)

    def _staged(self, data: dict[str, bytes]) -> bool:
        try:
            since = datetime.datetime.fromisoformat(data.get(NEXT_SINCE, b"").decode())
        except ValueError:
            return True
        elapsed = datetime.datetime.now(datetime.UTC) - since
        return elapsed.total_seconds() >= self._stage_s

    def _new_ca(self, old: dict[str, bytes]) -> dict[str, bytes]:
        """A first CA; else promote the published next CA; else publish a next CA."""
        if TLS_KEYS <= old.keys() and {NEXT_CERT, NEXT_KEY} <= old.keys():
            log.info("xDS CA rotation: the next CA signs from now on")
            return {"tls.crt": old[NEXT_CERT], "tls.key": old[NEXT_KEY], "ca.crt": old["ca.crt"]}
        pair = pki.new_ca(self._policy)
        bundle = pki.trust_bundle(pair.cert, old.get("ca.crt", b""))
        if not TLS_KEYS <= old.keys():
            return {"tls.crt": pair.cert, "tls.key": pair.key, "ca.crt": bundle}
        log.info("xDS CA rotation: next CA published in the trust bundle; it signs in %.0fs",
                 self._stage_s)
        since = datetime.datetime.now(datetime.UTC).isoformat().encode()
        return {**{k: old[k] for k in ("tls.crt", "tls.key")}, "ca.crt": bundle,
                NEXT_CERT: pair.cert, NEXT_KEY: pair.key, NEXT_SINCE: since}

    def _server_due(self, data: dict[str, bytes]) -> bool:
        assert self._ca is not None
        return not TLS_KEYS <= data.keys() \
            or data["ca.crt"] != self._bundle \
            or pki.needs_renewal(data["tls.crt"], self._policy, self._ca.cert) \
            or sorted(pki.server_hosts(data["tls.crt"])) != sorted(self._hosts)

    def _new_server(self, _: dict[str, bytes]) -> dict[str, bytes]:
        assert self._ca is not None
        pair = pki.issue_server(self._ca, self._hosts, self._policy)
        return {"tls.crt": pair.cert, "tls.key": pair.key, "ca.crt": self._bundle}

    async def _converge(self, name: str, due: Callable[[dict[str, bytes]], bool],
                        make: Callable[[dict[str, bytes]], dict[str, bytes]]
                        ) -> dict[str, bytes]:
        while True:
            current = await self._get(name)
            data = decode(current)
            if current is not None and not due(data):
                return data
            fresh = make(data)
            body: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Secret", "type": TLS_TYPE, "data": encode(fresh),
                "metadata": {"name": name, "namespace": self._namespace,
                             "labels": {"app.kubernetes.io/managed-by": "propylon"}}}
            try:
                if current is None:
                    await self._client.create(
                        SECRET(body), namespace=self._namespace)
                else:
                    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    await self._client.replace(SECRET(body), name, namespace=self._namespace)
            except KubeError as err:
                if err.code == 409:  # another replica won the race: take its Secret
                    continue
                raise
            log.info("xDS certificate Secret %s %s/%s", "created" if current is None
                     else "rotated", self._namespace, name)
            return fresh

    async def _get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(await self._client.get(SECRET, name, namespace=self._namespace))
        except KubeError as err:
            if err.code == 404:
                return None
            raise


def _reason(err: Exception) -> str:
    return str(err.message) if isinstance(err, KubeError) else str(err)
