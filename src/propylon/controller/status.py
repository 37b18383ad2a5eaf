"""The one status writer: turns `StatusUpdate` values into status subresource writes.

`submit()` queues updates; the latest wanted status of an object replaces any queued one for the
same object (coalescing), so a burst of reconciles costs at most one write per object. `run()`
is the single task that writes them, one object at a time:

1. Read the object's current state from the informer store (`current` callback); if it is not
   there it was deleted: drop the update.
2. Compute the full wanted status. For GatewayClass, Gateway and ListenerSet it is the update's
   status. For routes and policies (`parents` / `ancestors`) it is the current status with the
   entries whose `controllerName` is ours replaced by the update's: entries of other controllers
   are kept untouched.
3. Keep each condition's `lastTransitionTime` when its `status` did not change, as the API
   conventions require (and so that an unchanged status compares equal).
4. If the wanted status equals the current one, do nothing: no-op writes would wake every
   watcher, this controller included.
5. Otherwise replace the status through the `status` subresource, sending the object's
   resourceVersion: a concurrent writer makes the server answer 409 Conflict, and then the
   object is read again from the server and steps 2-5 repeat. 404 means the object is gone: drop
   it. Any other failure is logged and the update is retried after a backoff, unless a newer
   one replaced it meanwhile.

An update equal to the last one settled for its object (written, or found already true) is
dropped at `submit()` while the stored object is still the version that settled it: the whole
graph is reconciled on every pass, and this keeps unchanged objects from costing a status
computation each time. Every write's answer is remembered: `is_echo(kind, obj)` tells whether a watched object is exactly the
version our own last status write produced. The controller does not reconcile again for such an
echo: the status it carries is the one the last pass computed, and no IR depends on status.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any

import lightkube
from lightkube.core.exceptions import ApiError

from propylon.api.kinds import KindInfo, by_api_version
from propylon.client import resource_class
from propylon.translate.types import StatusUpdate

log = logging.getLogger(__name__)

UpdateKey = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
CurrentLookup = Callable[[KindInfo, str | None, str], dict[str, Any] | None]
ENTRY_LISTS = ("parents", "ancestors")
MAX_CONFLICT_RETRIES = 10


def wanted_status(current: dict[str, Any] | None, update: dict[str, Any],
                  controller_name: str) -> dict[str, Any]:
    """The full status an object must have, given its current status and our update."""
    current = current or {}
    if not any(k in update for k in ENTRY_LISTS):
        return _keep_transition_times(current, copy.deepcopy(update))
    wanted = dict(current)
    for key, value in update.items():
        if key in ENTRY_LISTS:
            foreign = [e for e in current.get(key) or []
                       if e.get("controllerName") != controller_name]
            value = foreign + copy.deepcopy(value)
        wanted[key] = copy.deepcopy(value)
    return _keep_transition_times(current, wanted)


def _identity(entry: dict[str, Any]) -> Any:
    """What makes an entry of a status list the same entry across writes."""
    for key in ("type", "parentRef", "ancestorRef", "name"):
        if key in entry:
            return (key, repr(entry[key]), entry.get("controllerName"))
    return None


def _keep_transition_times(current: Any, wanted: Any) -> Any:
    if isinstance(wanted, dict) and isinstance(current, dict):
        if "lastTransitionTime" in wanted and "type" in wanted \
                and current.get("status") == wanted.get("status") \
                and current.get("lastTransitionTime"):
            wanted["lastTransitionTime"] = current["lastTransitionTime"]
        for key, value in wanted.items():
            if key in current:
                wanted[key] = _keep_transition_times(current[key], value)
    elif isinstance(wanted, list) and isinstance(current, list):
        before = {_identity(e): e for e in current if isinstance(e, dict)}
        for i, entry in enumerate(wanted):
            if isinstance(entry, dict) and _identity(entry) in before:
                wanted[i] = _keep_transition_times(before[_identity(entry)], entry)
    return wanted


class StatusWriter:
    """Writes queued status updates; see the module docstring."""

    def __init__(self, client: lightkube.AsyncClient, current: CurrentLookup,
                 controller_name: str, *, retry_s: float = 1.0) -> None:
        self.client = client
        self.current = current
        self.controller_name = controller_name
        self.writes = 0  # successful status writes, for observability and tests
        self._retry_s = retry_s
        self._pending: dict[UpdateKey, StatusUpdate] = {}
        self._written: dict[tuple[str, str, str], str] = {}  # kind, ns, name -> resourceVersion
        # the update last settled per object, and the resourceVersion it was settled at
        self._settled: dict[UpdateKey, tuple[StatusUpdate, str]] = {}
        self._generation = 0  # bumped by clear(): retries queued before it are dropped
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, updates: Iterable[StatusUpdate]) -> None:
        """Queue these updates; a queued update of the same object is replaced."""
        for u in updates:
            key = (u.api_version, u.kind, u.namespace or "", u.name)
            settled = self._settled.get(key)
            if settled is not None and settled[0] == u and settled[1] == self._version(u):
                self._settled[key] = (u, settled[1])  # the next pass's, often `u` itself
                self._pending.pop(key, None)
                continue
            self._pending[key] = u
        if self._pending:
            self._idle.clear()
            self._wake.set()

    def is_echo(self, kind: str, obj: dict[str, Any]) -> bool:
        """Whether `obj` (of `kind`) is the version our last status write of it produced."""
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace") or "", meta.get("name") or "")
        version = meta.get("resourceVersion")
        return version is not None and self._written.get(key) == version

    def _version(self, update: StatusUpdate) -> str | None:
        obj = self.current(by_api_version(update.api_version, update.kind), update.namespace,
                           update.name)
        return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")

    def clear(self) -> None:
        """Drop every queued update and pending retry (this replica stopped leading)."""
        self._pending.clear()
        self._settled.clear()
        self._generation += 1

    async def wait_idle(self) -> None:
        """Return once every queued update has been written (or dropped)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Write queued updates until cancelled."""
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            key = next(iter(self._pending))
            update = self._pending.pop(key)
            try:
                await self._write(update)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - keep writing the others; retry this later
                log.warning("status write of %s %s/%s failed: %s; retrying in %.1fs",
                            update.kind, update.namespace or "", update.name, err, self._retry_s)
                asyncio.get_running_loop().call_later(self._retry_s, self._requeue, key, update,
                                                     self._generation)

    def _requeue(self, key: UpdateKey, update: StatusUpdate, generation: int) -> None:
        if key not in self._pending and generation == self._generation:
            self.submit([update])

    async def _write(self, update: StatusUpdate) -> None:
        info = by_api_version(update.api_version, update.kind)
        obj = self.current(info, update.namespace, update.name)
        res = resource_class(info)
        for _ in range(MAX_CONFLICT_RETRIES):
            if obj is None:
                self._settled.pop((update.api_version, update.kind, update.namespace or "",
                                   update.name), None)
                return
            wanted = wanted_status(obj.get("status"), update.status, self.controller_name)
            if wanted == (obj.get("status") or {}):
                self._settle(update, obj)
                return
            body = {"apiVersion": info.api_version, "kind": info.kind,
                    "metadata": {"name": update.name,
                                 "resourceVersion": obj["metadata"].get("resourceVersion"),
                                 **({"namespace": update.namespace} if info.namespaced else {})},
                    "status": wanted}
            try:
                written = await self.client.replace(
                    res.Status(body), name=update.name,
                    namespace=update.namespace if info.namespaced else None)
            except ApiError as err:
                if err.status.code == 404:
                    return
                if err.status.code != 409:
                    raise
                log.debug("status conflict on %s %s/%s, reading it again",
                          info.kind, update.namespace or "", update.name)
                obj = await self._read(res, update)
                continue
            self.writes += 1
            self._written[(info.kind, update.namespace or "", update.name)] = self._settle(
                update, dict(written))
            log.info("status written kind=%s namespace=%s name=%s",
                     info.kind, update.namespace or "", update.name)
            return
        raise RuntimeError(f"{MAX_CONFLICT_RETRIES} conflicts in a row writing the status of "
                           f"{info.kind} {update.namespace or ''}/{update.name}")

    def _settle(self, update: StatusUpdate, obj: dict[str, Any]) -> str:
        """Remember that `obj` (its resourceVersion) carries the outcome of `update`."""
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        key = (update.api_version, update.kind, update.namespace or "", update.name)
        self._settled[key] = (update, version)
        return version

    async def _read(self, res: type, update: StatusUpdate) -> dict[str, Any] | None:
        try:
            kwargs = {"namespace": update.namespace} if update.namespace else {}
            return dict(await self.client.get(res, update.name, **kwargs))
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
