"""The one status writer: turns `StatusUpdate` values into status subresource writes.

`submit()` queues updates; the latest wanted status of an object replaces any queued one for the
same object (coalescing), so a burst of reconciles costs at most one write per object. `run()`
writes them, up to `concurrency` objects at a time (never one object twice at once), so a
backlog of thousands of writes (a bulk apply) is not one round trip after the other. Per object:

1. Read the object's current state from the informer store (`current` callback); if it is not
   there it was deleted: drop the update. If our last write of the object returned a version
   the store has not seen yet (its watch event is still on the way), use that answer instead:
   writing over the stale version would only earn a 409.
2. Compute the full wanted status (`propylon.translate.statusmerge.wanted_status`): for
   GatewayClass, Gateway and ListenerSet the update's status; for routes and policies the
   current `parents` / `ancestors` entries of other controllers followed by ours.
3. Each condition keeps its `lastTransitionTime` when its `status` did not change (same
   function); a condition that changed carries `WRITE_TIME` from the translator and gets the
   time of this write.
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
computation each time. `is_echo(kind, obj)` tells whether a watched object is exactly the
version one of our status writes produced: the version the write returned, or, while the write
is in flight, the stored object with just the status being written (the watch event may come
first). The controller does not reconcile again for such an echo: the status it carries is the
one the last pass computed, and no IR depends on status.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import KindInfo, by_api_version
from propylon.client import KubeClient, KubeError, resource_class
from propylon.translate.statusmerge import wanted_status
from propylon.translate.types import StatusUpdate, WriteTime

log = logging.getLogger(__name__)

UpdateKey = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
ObjectKey = tuple[str, str, str]  # kind, namespace, name
CurrentLookup = Callable[[KindInfo, str | None, str], dict[str, Any] | None]
MAX_CONFLICT_RETRIES = 10
DEFAULT_CONCURRENCY = 2  # objects written at a time: one in the server, one being prepared


def stamped(value: Any, now: str) -> Any:
    """`value` with `now` for every lastTransitionTime that is `WRITE_TIME` (rebuilt where one
    is, shared elsewhere)."""
    if isinstance(value, dict):
        out = {k: now if k == "lastTransitionTime" and isinstance(v, WriteTime)
               else stamped(v, now)
               for k, v in value.items()}
        return value if all(map(operator.is_, out.values(), value.values())) else out
    if isinstance(value, list):
        items = [stamped(v, now) for v in value]
        return value if all(map(operator.is_, items, value)) else items
    return value


def _rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusWriter:
    """Writes queued status updates; see the module docstring."""

    def __init__(self, client: KubeClient, current: CurrentLookup,
                 controller_name: str, *, retry_s: float = 1.0,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.client = client
        self.current = current
        self.controller_name = controller_name
        self.writes = 0  # successful status writes, for observability and tests
        self.conflicts = 0  # writes the server refused with 409 Conflict
        self._retry_s = retry_s
        self._concurrency = max(1, concurrency)
        self._pending: dict[UpdateKey, StatusUpdate] = {}
        self._busy: set[UpdateKey] = set()  # being written now
        self._written: dict[ObjectKey, str] = {}  # the resourceVersion our last write produced
        # per object: the resourceVersion our last write replaced and the object it returned,
        # kept until the informer store moves past that version
        self._answers: dict[ObjectKey, tuple[str, dict[str, Any]]] = {}
        # per object being written: the resourceVersion written over and the status sent
        self._inflight: dict[ObjectKey, tuple[str, dict[str, Any]]] = {}
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
        """Whether `obj` (of `kind`) is the version one of our status writes produced.

        Either it carries the resourceVersion our last write of it returned, or a write of it is
        in flight and `obj` is the stored object with exactly the status that write sends (the
        watch event can arrive before the write's answer). The informer asks before it stores
        `obj`, so the store still holds the version `obj` replaces.
        """
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace") or "", meta.get("name") or "")
        version = meta.get("resourceVersion")
        if version is None:
            return False
        if self._written.get(key) == version:
            return True
        inflight = self._inflight.get(key)
        if inflight is None or obj.get("status") != inflight[1]:
            return False
        old = self.current(by_api_version(str(obj.get("apiVersion")), kind), key[1] or None,
                           key[2])
        return old is not None and _version_of(old) == inflight[0] \
            and _without_status(old) == _without_status(obj)

    def _version(self, update: StatusUpdate) -> str | None:
        obj = self.current(by_api_version(update.api_version, update.kind), update.namespace,
                           update.name)
        return None if obj is None else _version_of(obj)

    def clear(self) -> None:
        """Drop every queued update and pending retry (this replica stopped leading)."""
        self._pending.clear()
        self._settled.clear()
        self._generation += 1

    async def wait_idle(self) -> None:
        """Return once every queued update has been written (or dropped)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Write queued updates, up to `concurrency` objects at a time, until cancelled."""
        writes: set[asyncio.Task[None]] = set()
        try:
            while True:
                key = self._next() if len(self._busy) < self._concurrency else None
                if key is None:
                    if not self._pending and not self._busy:
                        self._idle.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                self._busy.add(key)
                task = asyncio.create_task(self._attempt(key, self._pending.pop(key)))
                writes.add(task)
                task.add_done_callback(writes.discard)
        finally:
            for task in writes:
                task.cancel()
            await asyncio.gather(*writes, return_exceptions=True)

    def _next(self) -> UpdateKey | None:
        """The oldest queued object not being written now."""
        return next((k for k in self._pending if k not in self._busy), None)

    async def _attempt(self, key: UpdateKey, update: StatusUpdate) -> None:
        try:
            await self._write(update)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - keep writing the others; retry this later
            log.warning("status write of %s %s/%s failed: %s; retrying in %.1fs",
                        update.kind, update.namespace or "", update.name, err, self._retry_s)
            asyncio.get_running_loop().call_later(self._retry_s, self._requeue, key, update,
                                                 self._generation)
        finally:
            self._busy.discard(key)
            self._wake.set()

    def _requeue(self, key: UpdateKey, update: StatusUpdate, generation: int) -> None:
        if key not in self._pending and generation == self._generation:
            self.submit([update])

    def _latest(self, info: KindInfo, update: StatusUpdate) -> dict[str, Any] | None:
        """The object as the informer has it, or as our last write of it returned it if the
        informer has not seen that write yet (writing over the stale version would conflict)."""
        obj = self.current(info, update.namespace, update.name)
        key = (info.kind, update.namespace or "", update.name)
        answer = self._answers.get(key)
        if answer is not None:
            if obj is not None and _version_of(obj) == answer[0]:
                return answer[1]
            del self._answers[key]
        return obj

    async def _write(self, update: StatusUpdate) -> None:
        info = by_api_version(update.api_version, update.kind)
        key = (info.kind, update.namespace or "", update.name)
        obj = self._latest(info, update)
        res = resource_class(info)
        for _ in range(MAX_CONFLICT_RETRIES):
            if obj is None:
                self._settled.pop((update.api_version, update.kind, update.namespace or "",
                                   update.name), None)
                return
            wanted = stamped(wanted_status(obj.get("status"), update.status,
                                           self.controller_name), _rfc3339_now())
            if wanted == (obj.get("status") or {}):
                self._settle(update, obj)
                return
            base = _version_of(obj) or ""
            body = {"apiVersion": info.api_version, "kind": info.kind,
                    "metadata": {"name": update.name, "resourceVersion": base,
                                 **({"namespace": update.namespace} if info.namespaced else {})},
                    "status": wanted}
            self._inflight[key] = (base, wanted)
            try:
                written = await self.client.replace(
                    res.Status(body), name=update.name,
                    namespace=update.namespace if info.namespaced else None)
            except KubeError as err:
                if err.code == 404:
                    return
                if err.code != 409:
                    raise
                self.conflicts += 1
                log.debug("status conflict on %s %s/%s, reading it again",
                          info.kind, update.namespace or "", update.name)
                obj = await self._read(res, update)
                continue
            finally:
                self._inflight.pop(key, None)
            self.writes += 1
            answer = dict(written)
            self._written[key] = self._settle(update, answer)
            self._answers[key] = (base, answer)
            log.info("status written kind=%s namespace=%s name=%s",
                     info.kind, update.namespace or "", update.name)
            return
        raise RuntimeError(f"{MAX_CONFLICT_RETRIES} conflicts in a row writing the status of "
                           f"{info.kind} {update.namespace or ''}/{update.name}")

    def _settle(self, update: StatusUpdate, obj: dict[str, Any]) -> str:
        """Remember that `obj` (its resourceVersion) carries the outcome of `update`."""
        version = _version_of(obj) or ""
        key = (update.api_version, update.kind, update.namespace or "", update.name)
        self._settled[key] = (update, version)
        return version

    async def _read(self, res: type, update: StatusUpdate) -> dict[str, Any] | None:
        try:
            kwargs = {"namespace": update.namespace} if update.namespace else {}
            return dict(await self.client.get(res, update.name, **kwargs))
        except KubeError as err:
            if err.code == 404:
                return None
            raise


def _version_of(obj: dict[str, Any]) -> str | None:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return None if version is None else str(version)


def _without_status(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` without what a status write changes: status, resourceVersion, managedFields."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}
