"""An informer: one kind's objects mirrored in memory by list, then watch.

The controller keeps one per kind it reads; Kubernetes mode's infrastructure manager
(`infra.kubernetes`) one for Deployments and one for Services.

`Informer.run()` keeps `store` equal to what the API server holds for one kind (all namespaces),
the way client-go's reflector does:

1. **List** every object; remember the list's `resourceVersion`; replace the store wholesale (so
   an object deleted while we were not watching cannot survive); set `synced`.
2. **Watch** from that resourceVersion with `allowWatchBookmarks`, applying ADDED / MODIFIED /
   DELETED events and remembering the resourceVersion of every event, bookmarks included.
3. If the watch ends because the connection dropped or the server is unreachable, wait (an
   exponential backoff, reset by the next event) and **resume** from the last resourceVersion
   seen. If the server answers 410 Gone to that (the version was compacted), or sends an ERROR
   event, go back to step 1.

A kind the server does not serve (404 on the list: an optional CRD such as ListenerSet is not
installed) counts as synced with no objects, and is listed again every `absent_retry_s`;
`served` says whether the last list was answered (None before the first; a change of it calls
`on_change` as a change of objects does). Its absence is logged
as a warning, once per time it goes missing, unless `log_absent` is false (the caller says it,
as the controller does for Envoy Gateway's kinds in one line).

With `fields` (a field selector as a dict, e.g. `{"type": "kubernetes.io/tls"}` for Secrets)
and `labels` (a label selector as a dict, every label required: the infrastructure manager's
informers keep only the proxy objects Propylon made) the list and the watch ask the server for
matching objects only.

Objects are stored as the plain JSON dicts the server sent. After every change to the store the
`on_change` callback runs (from the event loop); an event that changes nothing (a resync of an
identical object) does not call it, nor does a modification for which `quiet(obj)` is true (the
controller's own status writes coming back). `quiet` is asked before the store takes `obj`, so
it can compare `obj` with the version it replaces.

The list and the watch go through `propylon.client.KubeClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.client import KubeClient, KubeError, resource_class

log = logging.getLogger(__name__)

ObjectKey = tuple[str, str]  # (namespace or "", name)


class _Gone(Exception):
    """The resourceVersion we watch from is too old: relist."""


class _NotServed(Exception):
    """The server does not serve this kind (its CRD is not installed): it has no objects."""


def object_key(obj: dict[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Informer:
    """Mirror of one kind; see the module docstring."""

    def __init__(self, client: KubeClient, info: KindInfo,
                 on_change: Callable[[], None] | None = None, *,
                 quiet: Callable[[dict[str, Any]], bool] | None = None,
                 backoff_initial_s: float = 0.1, backoff_max_s: float = 5.0,
                 server_timeout_s: int = 300, absent_retry_s: float = 30.0,
                 fields: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                 log_absent: bool = True) -> None:
        self.client = client
        self.info = info
        self.fields = dict(fields or {})
        self.labels = dict(labels or {})
        self.on_change = on_change
        self.quiet = quiet
        self.store: dict[ObjectKey, dict[str, Any]] = {}
        self._objects: tuple[dict[str, Any], ...] | None = None  # `objects()`, while valid
        # the objects in name order and each key's position there, while the keys are the same
        self._order: list[dict[str, Any]] | None = None
        self._position: dict[ObjectKey, int] = {}
        self.synced = asyncio.Event()
        self.resource_version: str | None = None
        self.served: bool | None = None  # whether the last list was answered (not a 404)
        self.lists = 0  # how many times the kind was listed (the first one plus every relist)
        self.watch_restarts = 0  # watches that ended (dropped, failed or expired) and restarted
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._server_timeout_s = server_timeout_s
        self._absent_retry_s = absent_retry_s
        self._log_absent = log_absent
        self._res = resource_class(info)
        self._watched = False  # a watch event arrived since the last failure

    def objects(self) -> tuple[dict[str, Any], ...]:
        """Every object, ordered by namespace then name: the same tuple until the store changes
        (the translator tells unchanged objects by identity); an edit only replaces its object
        in the kept order, so the tuple is a copy of a list, not a sort."""
        if self._objects is None:
            if self._order is None:
                keys = sorted(self.store)
                self._order = list(map(self.store.__getitem__, keys))
                self._position = {k: i for i, k in enumerate(keys)}
            self._objects = tuple(self._order)
        return self._objects

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.store.get((namespace or "", name))

    async def run(self) -> None:
        """Keep the store in sync until cancelled."""
        failures = 0
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                await self._watch()
            except asyncio.CancelledError:
                raise
            except _NotServed:
                await asyncio.sleep(self._absent_retry_s)
            except _Gone:
                self.watch_restarts += 1
                log.info("informer %s: resourceVersion %s expired, relisting",
                         self.info.kind, self.resource_version)
                self.resource_version = None
                failures = 0 if self._watched else failures + 1
                if failures:  # Gone again right after a list: do not hammer the server
                    await asyncio.sleep(self._delay(failures))
            except Exception as err:  # noqa: BLE001 - any failure of the connection: back off, resume
                self.watch_restarts += 1
                failures = 1 if self._watched else failures + 1
                delay = self._delay(failures)
                log.warning("informer %s: %s: %s; retrying in %.1fs from resourceVersion %s",
                            self.info.kind, type(err).__name__, err, delay, self.resource_version)
                await asyncio.sleep(delay)
            self._watched = False

    def _delay(self, failures: int) -> float:
        return min(self._backoff_max_s, self._backoff_initial_s * 2.0 ** (failures - 1))

    async def _relist(self) -> None:
        try:
            listing = await self.client.list(self._res, fields=dict(self.fields) or None,
                                             labels=dict(self.labels) or None,
                                             namespace=self._namespace())
        except KubeError as err:
            if err.code != 404:
                raise
            if self._log_absent and (not self.synced.is_set() or self.store):
                log.warning("informer %s: the server does not serve %s/%s (is its CRD installed?);"
                            " treating it as empty, checking again every %.0fs", self.info.kind,
                            self.info.group_version, self.info.plural, self._absent_retry_s)
            self._replace({}, served=False)
            raise _NotServed() from err
        fresh = {object_key(obj): obj for obj in listing.items}
        self.resource_version = listing.resource_version
        self.lists += 1
        log.debug("informer listed kind=%s count=%d resourceVersion=%s",
                  self.info.kind, len(fresh), self.resource_version)
        self._replace(fresh, served=True)

    def _replace(self, fresh: dict[ObjectKey, dict[str, Any]], served: bool) -> None:
        changed = fresh != self.store or (self.served is not None and served != self.served)
        self.served = served
        self.store, self._objects, self._order = fresh, None, None
        self.synced.set()
        if changed:
            self._notify()

    async def _watch(self) -> None:
        """Apply watch events until the stream fails (raises) or the server is gone."""
        events = self.client.watch(self.info, resource_version=self.resource_version or "",
                                   timeout_s=self._server_timeout_s, fields=self.fields or None,
                                   labels=self.labels or None)
        try:
            async with contextlib.aclosing(events):
                async for event_type, obj in events:
                    self._apply(event_type, obj)
        except KubeError as err:
            if err.code == 410 or err.in_stream:  # 410, or an ERROR watch event
                raise _Gone() from err
            raise

    def _apply(self, event_type: str, obj: dict[str, Any]) -> None:
        self._watched = True
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = version
        key = object_key(obj)
        if event_type in ("ADDED", "MODIFIED"):
            if self.store.get(key) != obj:
                if self._order is not None and key in self.store:
                    self._order[self._position[key]] = obj
                else:
                    self._order = None
                quiet = self.quiet is not None and self.quiet(obj)  # before the store takes obj
                self.store[key], self._objects = obj, None
                if not quiet:
                    self._notify()
        elif event_type == "DELETED":
            if self.store.pop(key, None) is not None:
                self._objects = self._order = None
                self._notify()

    def _namespace(self) -> str | None:
        """Every namespace for a namespaced kind (the client's `*`); None for a cluster-scoped one."""
        return "*" if self.info.namespaced else None

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change()
