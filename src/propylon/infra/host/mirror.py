"""`MirroredInfra`: standalone mode's Envoy processes shown in the API as Pods and Services.

It wraps the host infrastructure manager (`HostInfra`) and implements the same
`InfraManager` protocol: `states()`, `subscribe()` and `close()` are the wrapped manager's, and
`apply()` applies to it, then publishes, per wanted Gateway, the Pod and Service that
`host_objects` describes from its InfraIR, its InfraState and its Envoy process. The controller
calls `apply()` on every pass, and every state change (an Envoy became ready, died, was
restarted) makes a pass, so the published objects follow the processes.

Writes go through the `KubeClient`, as server-side applies with field manager
`propylon-host` (the object, then its status subresource), and only when what a Gateway's
objects should be differs from what was last written. The Gateway's uid (for the owner
reference) is read once per Gateway. A failed write is logged and retried `retry_s` later by
calling the subscribers, which makes the controller run another pass.

Objects are deleted when their Gateway is no longer wanted (the embedded API server does not
garbage-collect owned objects), and on the first `apply` so are the ones a previous run left
for Gateways that are gone. Only objects carrying Propylon's labels and an owner reference to
the Gateway their labels name are ever deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from propylon.api.kinds import GATEWAY_GROUP, by_kind
from propylon.client import KubeClient, KubeError, KubeUnreachable, resource_class
from propylon.infra import InfraManager
from propylon.infra.host.host_objects import Process, host_objects
from propylon.infra.labels import COMPONENT_LABELS, GATEWAY_NAME_LABEL, NAMESPACE_LABEL, label_value
from propylon.infra.owners import GatewayOwners
from propylon.infra.subscribers import Subscribers
from propylon.ir.model import GatewayKey, InfraIR, InfraState

log = logging.getLogger(__name__)

FIELD_MANAGER = "propylon-host"
KINDS = (by_kind("Pod"), by_kind("Service"))

Objects = list[tuple[dict[str, Any], dict[str, Any]]]


class ProcessInfra(InfraManager, Protocol):
    """An infrastructure manager that runs one process per Gateway (`HostInfra`)."""

    def process(self, key: GatewayKey) -> Process:
        """The Gateway's Envoy process."""


class MirroredInfra:
    """Publishes the wrapped manager's proxies as Pods and Services; an `InfraManager`."""

    def __init__(self, inner: ProcessInfra, client: KubeClient,
                 retry_s: float = 2.0) -> None:
        self._inner = inner
        self._client = client
        self._retry_s = retry_s
        self._owners = GatewayOwners(client)
        self._written: dict[GatewayKey, Objects] = {}
        self._subscribers = Subscribers()
        self._retry: asyncio.TimerHandle | None = None
        self._first_apply = True

    # -- InfraManager -------------------------------------------------------------------------

    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        await self._inner.apply(wanted)
        states = self._inner.states()
        try:
            if self._first_apply:
                await self._delete_managed(lambda key: key not in wanted)
                self._first_apply = False
            gone = set(self._written) - set(wanted)
            if gone:
                await self._delete_managed(gone.__contains__)
        except (KubeError, KubeUnreachable) as err:
            self._fail("deleting the objects of removed Gateways", err)
        for key in sorted(wanted):
            state = states.get(key)
            if state is not None:
                await self._publish(key, wanted[key], state)

    def states(self) -> Mapping[GatewayKey, InfraState]:
        return self._inner.states()

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.add(callback)
        self._inner.subscribe(callback)

    async def close(self, stop_proxies: bool = True) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        await self._inner.close(stop_proxies)

    # -- publishing ---------------------------------------------------------------------------

    async def _publish(self, key: GatewayKey, ir: InfraIR, state: InfraState) -> None:
        try:
            owner = await self._owners.get(key)
            if owner is None:
                return  # the Gateway was deleted meanwhile; the next pass drops it
            objects = host_objects(ir, state, owner, self._inner.process(key))
            if self._written.get(key) == objects:
                return
            before = self._written.pop(key, [])
            for obj, status in objects:
                res = resource_class(by_kind(obj["kind"]))
                await self._client.apply(res(obj), field_manager=FIELD_MANAGER, force=True)
                meta = {k: obj["metadata"][k] for k in ("name", "namespace")}
                await self._client.apply(
                    res.Status({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                "metadata": meta, "status": status}),
                    field_manager=FIELD_MANAGER, force=True)
            kinds = {obj["kind"] for obj, _ in objects}
            for obj, _ in before:
                if obj["kind"] not in kinds:  # the Service of a Gateway left without listeners
                    await self._delete(obj)
            self._written[key] = objects
            log.info("host proxy objects written gateway=%s", key)
        except (KubeError, KubeUnreachable) as err:
            self._fail(f"writing the Pod and Service of Gateway {key}", err)

    # -- deleting -----------------------------------------------------------------------------

    async def _delete_managed(self, unwanted: Callable[[GatewayKey], bool]) -> None:
        """Delete the Pods and Services of Propylon's whose Gateway is `unwanted`."""
        for info in KINDS:
            listing = await self._client.list(resource_class(info), namespace="*",
                                              labels=dict(COMPONENT_LABELS))
            for obj in listing.items:
                key = _owning_gateway(obj)
                if key is not None and unwanted(key):
                    await self._delete(obj)
                    self._written.pop(key, None)
                    self._owners.forget(key)

    async def _delete(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        try:
            await self._client.delete(resource_class(by_kind(obj["kind"])), meta["name"],
                                      namespace=meta["namespace"])
        except KubeError as err:
            if err.code != 404:
                raise
        log.info("host proxy object deleted kind=%s namespace=%s name=%s",
                 obj["kind"], meta["namespace"], meta["name"])

    # -- retries ------------------------------------------------------------------------------

    def _fail(self, what: str, err: Exception) -> None:
        message = err.message if isinstance(err, KubeError) else str(err)
        log.warning("%s failed: %s; retrying in %.1fs", what, message, self._retry_s)
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self._retry_s, self._call_again)

    def _call_again(self) -> None:
        self._retry = None
        self._subscribers.notify()


def _owning_gateway(obj: dict[str, Any]) -> GatewayKey | None:
    """The Gateway an object's labels name, if an owner reference points to that Gateway (the
    reference holds the whole name; the label may be shortened, see `label_value`)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    label, namespace = labels.get(GATEWAY_NAME_LABEL), labels.get(NAMESPACE_LABEL)
    if not label or not namespace or namespace != meta.get("namespace"):
        return None
    for ref in meta.get("ownerReferences") or []:
        name = str(ref.get("name") or "")
        if (ref.get("kind") == "Gateway" and label_value(name) == label
                and str(ref.get("apiVersion", "")).startswith(f"{GATEWAY_GROUP}/")):
            return GatewayKey(namespace, name)
    return None
