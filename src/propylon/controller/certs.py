"""`CertManager`: the xDS certificates of Kubernetes mode, kept in Secrets and rotated.

In the controller's namespace it keeps two `kubernetes.io/tls` Secrets:

- `propylon-xds-ca`: the CA (`tls.crt`, `tls.key`) and the trust bundle (`ca.crt`: the CA and
  a previous, still valid CA after a rotation);
- `propylon-xds-server`: the xDS server's certificate for `server_hosts` (the xDS Service's DNS
  names and the address written into the proxies' bootstraps), and the bundle.

`ensure()` reads them, creates the missing ones and replaces those `pki.needs_renewal()` says
are due (or whose hosts changed), and returns the server material. Every replica runs it:
creations race through `create` (409 AlreadyExists: read the winner's) and replacements carry
the resourceVersion read (409 Conflict: read again), so replicas converge on one CA. `run()`
repeats it every `check_s`, hands new server material to the xDS server (`MutualTls.update`)
and calls the subscribers, so the infrastructure re-issues client certificates that are due.

`client_secret_data()` gives the data of a Gateway's client Secret (`tls.crt`, `tls.key`,
`ca.crt`): the existing data when still good, else a fresh certificate. Secret data is never
logged.
"""

from __future__ import annotations

import asyncio
import base64
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
                 policy: pki.Policy | None = None, *, check_s: float = 3600.0) -> None:
        self._client = client
        self._namespace = namespace
        self._hosts = list(dict.fromkeys(server_hosts))
        self._policy = policy or pki.Policy()
        self._check_s = check_s
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

    def client_secret_data(self, node_id: str, existing: dict[str, bytes] | None) -> dict[str, str]:
        """The client Secret data of Gateway `node_id`: `existing` when still good."""
        if self._ca is None:
            raise RuntimeError("CertManager.ensure() has not run")
        if existing and existing.get("ca.crt") == self._bundle \
                and {"tls.crt", "tls.key"} <= existing.keys() \
                and not pki.needs_renewal(existing["tls.crt"], self._policy, self._ca.cert):
            return encode(existing)
        pair = pki.issue_client(self._ca, node_id, self._policy)
        log.info("xDS client certificate issued gateway=%s", node_id)
        return encode({"tls.crt": pair.cert, "tls.key": pair.key, "ca.crt": self._bundle})

    # -- one Secret ---------------------------------------------------------------------------

    def _ca_due(self, data: dict[str, bytes]) -> bool:
        return not {"tls.crt", "tls.key", "ca.crt"} <= data.keys() \
            or pki.needs_renewal(data["tls.crt"], self._policy)

    def _new_ca(self, old: dict[str, bytes]) -> dict[str, bytes]:
        pair = pki.new_ca(self._policy)
        bundle = pki.trust_bundle(pair.cert, old.get("ca.crt", b""))
        return {"tls.crt": pair.cert, "tls.key": pair.key, "ca.crt": bundle}

    def _server_due(self, data: dict[str, bytes]) -> bool:
        assert self._ca is not None
        return not {"tls.crt", "tls.key", "ca.crt"} <= data.keys() \
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
