"""`GatewayOwners`: the owner reference of a Gateway's proxy objects, read once per Gateway.

Both managers that write objects through the Kubernetes API (`kubernetes.manager.KubernetesInfra`,
the Deployments of Kubernetes mode, and `host.mirror.MirroredInfra`, standalone mode's Pods and
Services)
make each object owned by its Gateway. `get(key)` returns the cached `Owner`, else reads the
Gateway through the `KubeClient` for its uid and caches the result; it returns None when the
Gateway does not exist (any other API error is raised). `forget(key)` drops the entry when the
Gateway's objects are deleted, so a Gateway created again under the same name is read again.
"""

from __future__ import annotations

from propylon.api.kinds import by_kind
from propylon.client import KubeClient, KubeError, resource_class
from propylon.infra.labels import Owner
from propylon.ir.model import GatewayKey

GATEWAY = by_kind("Gateway")


class GatewayOwners:
    """The `Owner` of each Gateway's objects, cached by Gateway."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._owners: dict[GatewayKey, Owner] = {}

    async def get(self, key: GatewayKey) -> Owner | None:
        """The Gateway's owner reference, or None when the Gateway does not exist."""
        if (owner := self._owners.get(key)) is not None:
            return owner
        try:
            gateway = await self._client.get(resource_class(GATEWAY), key.name,
                                             namespace=key.namespace)
        except KubeError as err:
            if err.code == 404:
                return None
            raise
        owner = Owner(GATEWAY.api_version, key.name, str(dict(gateway)["metadata"]["uid"]))
        self._owners[key] = owner
        return owner

    def forget(self, key: GatewayKey) -> None:
        self._owners.pop(key, None)
