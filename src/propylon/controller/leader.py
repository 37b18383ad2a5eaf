"""Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does it.

Every replica runs a `LeaderElector` with its own `identity`. The Lease's spec records the holder
(`holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime`, `leaseTransitions`).
Every `retry_period_s` a replica tries to acquire or renew:

1. Read the Lease; if it does not exist, create it with us as holder (409: someone else did).
2. If another replica holds it, remember when its record last changed, by *our* monotonic
   clock (remote clocks are never compared): the holder is considered alive until
   `lease_duration_s` has passed on our clock without its record changing. Until then, wait.
3. Otherwise (we hold it, or it expired, or it was released) replace it with us as holder,
   sending the resourceVersion read: when two replicas race, the server's 409 Conflict lets
   exactly one win.

The leader renews every `retry_period_s`; if no renewal succeeded for `renew_deadline_s` (shorter
than the lease duration, so it steps down before anyone else may take over) it stops leading and
becomes a candidate again. Every attempt is bounded in time, as client-go bounds its renew with a
context whose deadline is the renew deadline: a leader's attempt may take only the time left
before its renew deadline, a candidate's at most the renew deadline, so an API call that hangs
(a half-open connection, a stuck server) cannot keep a stale leader acting past the deadline; a
timed-out attempt counts as a failed one. On a clean stop the leader releases the Lease (an empty holder), so a
successor need not wait for it to expire. Subscribers are told of every change of leadership
(`True`: now leading), from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import by_kind
from propylon.client import KubeClient, KubeError, resource_class

log = logging.getLogger(__name__)

LEASE = resource_class(by_kind("Lease"))


@dataclass(frozen=True)
class LeaderConfig:
    """Which Lease, who we are, and the timings (client-go's defaults: 15 s / 10 s / 2 s)."""

    namespace: str
    identity: str
    name: str = "propylon-controller"
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError("leader election needs retry period < renew deadline < "
                             "lease duration")


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for, holds and renews the Lease; see the module docstring."""

    def __init__(self, client: KubeClient, config: LeaderConfig) -> None:
        self._client = client
        self.config = config
        self.leading = False
        self.transitions = 0  # how often this replica became leader
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._subscribers: list[Callable[[bool], None]] = []

    def subscribe(self, callback: Callable[[bool], None]) -> None:
        self._subscribers.append(callback)

    async def run(self) -> None:
        """Campaign and lead until cancelled; a leader releases the Lease on the way out."""
        cfg = self.config
        last_renew = time.monotonic()
        try:
            while True:
                ok = await self._bounded_attempt(last_renew)
                now = time.monotonic()
                if ok:
                    last_renew = now
                    self._set_leading(True)
                elif self.leading and now - last_renew >= cfg.renew_deadline_s:
                    log.warning("leader election: lease %s/%s not renewed for %.1fs, stepping "
                                "down identity=%s", cfg.namespace, cfg.name,
                                cfg.renew_deadline_s, cfg.identity)
                    self._set_leading(False)
                await asyncio.sleep(cfg.retry_period_s)
        finally:
            if self.leading:
                self._set_leading(False)
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._release())

    async def _bounded_attempt(self, last_renew: float) -> bool:
        """One acquire-or-renew attempt, cancelled when a leader's renew deadline (or a
        candidate's full renew deadline) has passed."""
        cfg = self.config
        budget = cfg.renew_deadline_s
        if self.leading:
            budget -= time.monotonic() - last_renew
        try:
            return await asyncio.wait_for(self._try_acquire_or_renew(), max(budget, 0.0))
        except TimeoutError:
            log.warning("leader election: lease %s/%s: no answer within %.1fs", cfg.namespace,
                        cfg.name, max(budget, 0.0))
            return False

    def _set_leading(self, leading: bool) -> None:
        if leading == self.leading:
            return
        self.leading = leading
        if leading:
            self.transitions += 1
        log.info("leader election: %s lease %s/%s identity=%s",
                 "became leader of" if leading else "no longer leader of",
                 self.config.namespace, self.config.name, self.config.identity)
        for callback in list(self._subscribers):
            callback(leading)

    def _record(self, spec: dict[str, Any], acquired: bool) -> dict[str, Any]:
        now = micro_time()
        transitions = int(spec.get("leaseTransitions") or 0)
        return {"holderIdentity": self.config.identity,
                "leaseDurationSeconds": max(1, round(self.config.lease_duration_s)),
                "acquireTime": now if acquired else spec.get("acquireTime", now),
                "renewTime": now,
                "leaseTransitions": transitions + 1 if acquired and spec else transitions}

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        try:
            current = await self._get()
            if current is None:
                await self._client.create(LEASE({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                    "spec": self._record({}, acquired=True)}), namespace=cfg.namespace)
                return True
            spec = current.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            observed = (holder, spec.get("renewTime"), spec.get("leaseTransitions"))
            if observed != self._observed:
                self._observed, self._observed_at = observed, time.monotonic()
            duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration_s)
            if holder and holder != cfg.identity \
                    and time.monotonic() - self._observed_at < duration:
                return False
            body = dict(current, spec=self._record(spec, acquired=holder != cfg.identity))
            await self._client.replace(LEASE(body), cfg.name, namespace=cfg.namespace)
            return True
        except KubeError as err:
            if err.code != 409:
                log.warning("leader election: lease %s/%s: %s", cfg.namespace, cfg.name,
                            err.message)
            return False
        except Exception as err:  # noqa: BLE001 - the API unreachable: try again next period
            log.warning("leader election: lease %s/%s: %s: %s", cfg.namespace, cfg.name,
                        type(err).__name__, err)
            return False

    async def _get(self) -> dict[str, Any] | None:
        try:
            return dict(await self._client.get(LEASE, self.config.name,
                                               namespace=self.config.namespace))
        except KubeError as err:
            if err.code == 404:
                return None
            raise

    async def _release(self) -> None:
        current = await self._get()
        if current is None or (current.get("spec") or {}).get("holderIdentity") \
                != self.config.identity:
            return
        spec = dict(current["spec"], holderIdentity="", leaseDurationSeconds=1,
                    renewTime=micro_time())
        await self._client.replace(LEASE(dict(current, spec=spec)), self.config.name,
                                   namespace=self.config.namespace)
        log.info("leader election: released lease %s/%s", self.config.namespace,
                 self.config.name)
