"""The controller: informers in, one incremental whole-graph reconcile, status and config out.

`Controller.run()` starts one `Informer` per watched kind (every Gateway API kind of
`propylon.api.kinds.KINDS`, Propylon's GatewayParameters, Envoy Gateway's SecurityPolicy,
BackendTrafficPolicy, ClientTrafficPolicy, EnvoyExtensionPolicy, EnvoyPatchPolicy, EnvoyProxy,
HTTPRouteFilter and Backend, and Namespace, Service, EndpointSlice, Secret, ConfigMap, Ingress and
IngressClass (Ingress objects are served through their conversion: `ingress.serving`, the
translation the controller runs); Envoy Gateway's
only while their CRDs are served: `optionalcrds`), the `StatusWriter`, and the reconcile loop.
Secrets are watched
by two informers with field selectors, `type=kubernetes.io/tls` and `type=Opaque`: every Secret
the API lets a Gateway reference (a listener's certificateRefs, a Gateway's backend client
certificate) must be of the first type, CA bundles (BackendTLSPolicy, frontend validation) come
from ConfigMaps, and a SecurityPolicy's credentials (basicAuth users, apiKeyAuth keys) come
from Opaque Secrets; service-account tokens, Helm releases and the other types stay out of the
cache. Of the Opaque Secrets, a snapshot holds only those some SecurityPolicy names
(`translate.policies.credentials.referenced`), a ClientTrafficPolicy names as CA bundle
(`translate.policies.clientcerts.referenced`) or an Ingress annotation of ingress-nginx names
(`ingress.serving.referenced_secrets`), so no other reaches the translation. What the
conversion of served Ingress objects could not do as ingress-nginx does is logged, a warning
per Ingress and annotation, when it first appears. Any informer change, any change of the
infrastructure's state (`InfraManager.subscribe`) and any change of what Envoys refuse
(`SnapshotCache.on_rejections`) marks the graph dirty, except the echoes of the controller's own
status writes (`StatusWriter.is_echo`: they carry the status the last pass computed, and no IR
depends on status). Once every informer has listed, a change is reconciled at once, and the
changes that arrive during a pass make the next one: a pass costs what changed since the last
(`translate.Memo`), so a burst is batched by the passes themselves and a change is never held
back by a wait. Then:

1. builds an immutable `Snapshot` of every store plus `infra.states()` and the xDS server's
   `rejections()` (what each Gateway's Envoys refuse, with Envoy's messages), with `now` =
   `WRITE_TIME`: the status writer stamps conditions that change with the time it writes
   them, so passes depend on no clock; a GatewayClass naming another controller is logged
   once (`translate.foreignclasses`: which controller, ours, how to change it);
2. calls the pure `ingress.serving.translate(snapshot, memo)` (the Gateway API translation,
   with the served Ingress objects converted): in a worker thread when the last pass took
   `INLINE_PASS_S` or more (the first one, a bulk change), so the event loop keeps serving
   the informers, the xDS streams and leader election during a long pass; on the event loop
   otherwise, since a pass proportional to a small change takes a few milliseconds and a
   thread would only add hand-offs of the GIL. If it raises (a bug), the traceback is logged
   and the last good configuration stays in place;
3. `await infra.apply(result.infra)`;
4. for every Gateway whose IR differs from the one last published, publishes
   `xds_translate(ir)` (an `xds.translate.Translator`, which reuses the messages of unchanged IR
   objects) under node id `namespace/name` in the xDS snapshot cache, and removes the nodes of
   Gateways that are gone;
5. submits to the status writer the statuses that are not the same objects as last pass's
   (the translator's memo keeps an unchanged route's StatusUpdate; see `_submit`), and the
   writer writes only what differs from the object's status.

With several replicas (Kubernetes mode, `leader.LeaderElector`) every replica watches,
translates and publishes xDS, but only the leader applies infrastructure and writes status:
`set_leader()` switches this; a replica that becomes leader runs a full pass at once (the status
writer skips what is already right), one that stops leading drops its queued status writes.
Infrastructure managers that write to the cluster are switched by the same election.

The objects listed at start-up and what the first pass makes of them live as long as the
process, so both are moved out of the cyclic garbage collector's generations (`gc.freeze()`):
otherwise its full collections walk every one of them again and again while the first pass
allocates (a third of that pass's CPU at 5,000 routes). Frozen objects are still freed by
reference counting when a store or the memo drops them; the JSON objects and translation results
hold no reference cycles.

Every pass starts from the stores, so the outcome depends only on what the API holds now; the
controller's `translate.Memo` only spares decoding and translating again the objects that did
not change (a pass with it equals one without, by a property test), and passes never overlap. `wait_synced()` and `wait_idle()` let callers (and tests) wait for the
first pass and for quiescence.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

from propylon.api.egbackend import KIND as EG_BACKEND_KIND
from propylon.api.envoygateway import CLIENT_TRAFFIC_POLICY, POLICY_KINDS, SECURITY_POLICY
from propylon.api.envoyproxy import KIND as ENVOY_PROXY
from propylon.api.kinds import (
    ENVOY_GATEWAY_GROUP,
    GATEWAY_GROUP,
    KINDS,
    PROPYLON_GROUP,
    KindInfo,
    by_kind,
)
from propylon.api.routefilter import KIND as ROUTE_FILTER_KIND
from propylon.client import KubeClient
from propylon.controller.optionalcrds import OptionalKinds
from propylon.controller.status import StatusWriter
from propylon.informer import Informer, object_key
from propylon.infra import InfraManager
from propylon.ingress import serving
from propylon.ir.model import GatewayIR, GatewayKey, Rejections
from propylon.translate import Memo, foreignclasses
from propylon.translate.policies import clientcerts, credentials
from propylon.translate.types import (
    DEFAULT_CONTROLLER_NAME,
    WRITE_TIME,
    IngressSettings,
    Result,
    Snapshot,
    StatusUpdate,
)
from propylon.xds.translate import Translator

log = logging.getLogger(__name__)

CORE_KINDS = ("Namespace", "Service", "EndpointSlice", "Secret", "ConfigMap", "Ingress",
              "IngressClass")
WATCHED_KINDS: tuple[KindInfo, ...] = (
    tuple(k for k in KINDS if k.group in (GATEWAY_GROUP, PROPYLON_GROUP))
    + tuple(by_kind(k, ENVOY_GATEWAY_GROUP)
            for k in (*POLICY_KINDS, ENVOY_PROXY, ROUTE_FILTER_KIND, EG_BACKEND_KIND))
    + tuple(by_kind(k) for k in CORE_KINDS))
# Envoy Gateway's: CRDs a cluster may lack (`optionalcrds`)
ENVOY_GATEWAY_KINDS = tuple(k.kind for k in WATCHED_KINDS if k.group == ENVOY_GATEWAY_GROUP)
FIELD_SELECTORS = {"Secret": {"type": "kubernetes.io/tls"}}  # see the module docstring
OPAQUE_SECRETS = "Secret/Opaque"  # the informer of Opaque Secrets (credentials)


INLINE_PASS_S = 0.02  # a pass that short runs on the event loop (see the module docstring)


class XdsCache(Protocol):
    """The part of `propylon.xds.server.SnapshotCache` the controller uses."""

    def set(self, node_id: str, resources: Any) -> None: ...

    def remove(self, node_id: str) -> None: ...

    def rejections(self) -> Mapping[str, Rejections]: ...

    def on_rejections(self, callback: Callable[[], None]) -> None: ...


class Controller:
    """Reconciles the watched API objects into infrastructure, xDS and status."""

    def __init__(self, client: KubeClient, xds_cache: XdsCache, infra: InfraManager,
                 controller_name: str = DEFAULT_CONTROLLER_NAME, *,
                 translate_fn: Callable[[Snapshot], Result] | None = None,
                 xds_translate_fn: Callable[[GatewayIR], Any] | None = None,
                 ingress: IngressSettings | None = None) -> None:
        self.client = client
        self.xds_cache = xds_cache
        self.infra = infra
        self.controller_name = controller_name
        self.ingress = ingress or IngressSettings()
        self._ingress_notes: tuple[str, ...] = ()  # last pass's, logged when they change
        self.translate_fn = translate_fn or partial(serving.translate, memo=Memo())
        self.xds_translate_fn = xds_translate_fn or Translator()
        self.status = StatusWriter(client, self._current, controller_name)
        self.informers = {info.kind: Informer(client, info, self._mark_dirty,
                                              quiet=partial(self.status.is_echo, info.kind),
                                              fields=FIELD_SELECTORS.get(info.kind),
                                              log_absent=info.kind not in ENVOY_GATEWAY_KINDS)
                          for info in WATCHED_KINDS}
        self.informers[OPAQUE_SECRETS] = Informer(client, by_kind("Secret"), self._mark_dirty,
                                                  fields={"type": "Opaque"})
        self.leader = True  # whether this replica writes status and applies infrastructure
        self.reconciles = 0  # completed passes
        self.failures = 0  # passes whose translation raised
        self.translations = 0  # translate() calls, and the seconds they took in all
        self.translation_seconds = 0.0
        self._last_translation_s = float("inf")  # the first pass runs in a worker thread
        self._published: dict[GatewayKey, GatewayIR] = {}
        self._submitted: dict[int, StatusUpdate] = {}  # last pass's statuses, by id
        self._foreign: dict[str, str] = {}  # other controllers' classes noted: name -> theirs
        self._optional = OptionalKinds(ENVOY_GATEWAY_KINDS)
        self._dirty = asyncio.Event()
        self._idle = asyncio.Event()
        self._synced = asyncio.Event()

    async def run(self) -> None:
        """Watch and reconcile until cancelled."""
        self.infra.subscribe(self._mark_dirty)
        self.xds_cache.on_rejections(self._mark_dirty)
        self._mark_dirty()
        tasks = [asyncio.create_task(inf.run(), name=f"informer-{kind}")
                 for kind, inf in self.informers.items()]
        tasks.append(asyncio.create_task(self.status.run(), name="status-writer"))
        tasks.append(asyncio.create_task(self._loop(), name="reconcile"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a task only ends by raising: surface it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_synced(self) -> None:
        """Return after the first reconcile pass over fully listed stores."""
        await self._synced.wait()

    async def wait_idle(self) -> None:
        """Return when no change is pending, no pass is running and every status is written."""
        await self._synced.wait()
        while True:
            await self._idle.wait()
            await self.status.wait_idle()
            if self._idle.is_set():
                return

    def set_leader(self, leading: bool) -> None:
        """Start or stop writing status and applying infrastructure (see the docstring)."""
        self.leader = leading
        self._submitted = {}  # a new leader submits every status once
        if not leading:
            self.status.clear()
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._idle.clear()
        self._dirty.set()

    def _current(self, info: KindInfo, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.informers[info.kind].get(namespace, name)

    async def _loop(self) -> None:
        for inf in self.informers.values():
            await inf.synced.wait()
        log.info("controller synced kinds=%d", len(self.informers))
        gc.freeze()  # see the module docstring
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.reconcile_once()
            if not self._synced.is_set():
                gc.freeze()
            self._synced.set()
            if not self._dirty.is_set():
                self._idle.set()

    def snapshot(self) -> Snapshot:
        """An immutable view of every store and of the infrastructure's state."""
        objects = {kind: inf.objects() for kind, inf in self.informers.items()
                   if kind != OPAQUE_SECRETS}
        named = credentials.referenced(objects.get(SECURITY_POLICY, ())) | \
            clientcerts.referenced(objects.get(CLIENT_TRAFFIC_POLICY, ())) | \
            serving.referenced_secrets(objects.get("Ingress", ()))
        if named:
            objects["Secret"] = (*objects.get("Secret", ()), *(
                s for s in self.informers[OPAQUE_SECRETS].objects()
                if object_key(s) in named))
        rejections = {GatewayKey(*node.split("/", 1)): r
                      for node, r in self.xds_cache.rejections().items()}
        return Snapshot(objects=objects, infra=dict(self.infra.states()),
                        controller_name=self.controller_name, now=WRITE_TIME,
                        rejections=rejections, ingress=self.ingress)

    async def reconcile_once(self) -> None:
        """One pass: translate, then apply infrastructure, publish xDS, queue statuses."""
        snapshot = self.snapshot()
        self._note_foreign_classes(snapshot)
        self._optional.check(self.informers)
        started = time.perf_counter()
        try:
            if self._last_translation_s < INLINE_PASS_S:
                result = self.translate_fn(snapshot)
            else:
                result = await asyncio.to_thread(self.translate_fn, snapshot)
        except Exception:  # noqa: BLE001 - a translator bug must not stop the controller
            self.failures += 1
            log.exception("translation failed; keeping the last good configuration")
            return
        finally:
            self._last_translation_s = time.perf_counter() - started
            self.translations += 1
            self.translation_seconds += self._last_translation_s
        try:
            await self.infra.apply(result.infra)
        except Exception:  # noqa: BLE001 - report, still publish config and status
            log.exception("infrastructure apply failed")
        self._publish(result.gateways)
        if result.ingress_notes != self._ingress_notes:
            for line in sorted(set(result.ingress_notes) - set(self._ingress_notes)):
                log.warning("%s", line)
            self._ingress_notes = result.ingress_notes
        if self.leader:
            self._submit(result.statuses)
        self.reconciles += 1
        log.debug("reconciled gateways=%d statuses=%d",
                  len(result.gateways), len(result.statuses))

    def _note_foreign_classes(self, snapshot: Snapshot) -> None:
        """Log once per GatewayClass (again if its controllerName changes) that it names
        another controller (`foreignclasses`)."""
        found = dict(foreignclasses.foreign(snapshot.objects.get("GatewayClass", ()),
                                            self.controller_name))
        for name, theirs in found.items():
            if self._foreign.get(name) != theirs:
                log.info(foreignclasses.note(name, theirs, self.controller_name))
        self._foreign = found

    def _submit(self, statuses: tuple[StatusUpdate, ...]) -> None:
        """Hand the status writer the updates that are not last pass's objects (the translator
        keeps an unchanged route's StatusUpdate), found by identity with C loops."""
        by_id = dict(zip(map(id, statuses), statuses, strict=True))
        self.status.submit([by_id[i] for i in by_id.keys() - self._submitted.keys()])
        self._submitted = by_id

    def _publish(self, gateways: Mapping[GatewayKey, GatewayIR]) -> None:
        for key, ir in sorted(gateways.items()):
            if self._published.get(key) == ir:
                continue
            try:
                resources = self.xds_translate_fn(ir)
            except Exception:  # noqa: BLE001 - keep this Gateway's last good config
                log.exception("xDS translation of Gateway %s failed; keeping its last config", key)
                continue
            self.xds_cache.set(str(key), resources)
            self._published[key] = ir
            log.info("xds published node=%s", key)
        for key in sorted(set(self._published) - set(gateways)):
            self.xds_cache.remove(str(key))
            del self._published[key]
            log.info("xds removed node=%s", key)
