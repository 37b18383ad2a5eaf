"""Timestamps at the stage boundaries of a change, taken inside the control-plane process.

`install()` wraps, in the process that runs the stack (before the stack is built), the
functions a change goes through and appends `(time.monotonic(), stage)` to `MARKS` each time
one finishes (`pass` also when it starts):

- `event:<Kind>`: the informer applied a watch event of that kind;
- `pass:start` / `pass:end`: a controller pass (`Controller.reconcile_once`);
- `translated`: the controller's translation (`ingress.serving.translate`) returned;
- `published`: a Gateway's xDS resources were handed to the snapshot cache;
- `ack:<type>`: Envoy acknowledged a response of that type (`XdsServer.subscribe`).

CLOCK_MONOTONIC is system-wide on Linux, so `benchmarks.stages` compares these with the times
it took in its own process. The wrappers add a list append per call; nothing else changes.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from propylon import informer
from propylon.controller import reconciler
from propylon.ingress import serving
from propylon.xds.server import cache
from propylon.xds.server.ads import XdsEvent

MARKS: list[tuple[float, str]] = []


def _mark(stage: str) -> None:
    MARKS.append((time.monotonic(), stage))


def install() -> None:
    apply = informer.Informer._apply

    @functools.wraps(apply)
    def applied(self: informer.Informer, event_type: str, obj: dict[str, Any]) -> None:
        apply(self, event_type, obj)
        _mark(f"event:{self.info.kind}")

    once = reconciler.Controller.reconcile_once

    @functools.wraps(once)
    async def reconciled(self: reconciler.Controller) -> None:
        _mark("pass:start")
        await once(self)
        _mark("pass:end")

    translate = serving.translate

    @functools.wraps(translate)
    def translated(*args: Any, **kwargs: Any) -> Any:
        result = translate(*args, **kwargs)
        _mark("translated")
        return result

    put = cache.SnapshotCache.set

    @functools.wraps(put)
    def published(self: cache.SnapshotCache, *args: Any, **kwargs: Any) -> None:
        put(self, *args, **kwargs)
        _mark("published")

    informer.Informer._apply = applied  # type: ignore[method-assign]
    reconciler.Controller.reconcile_once = reconciled  # type: ignore[method-assign]
    serving.translate = translated  # type: ignore[assignment]
    cache.SnapshotCache.set = published  # type: ignore[method-assign]


def on_xds_event(event: XdsEvent) -> None:
    """Give this to `XdsServer.subscribe`."""
    if event.kind == "ack":
        _mark(f"ack:{event.type_url.rsplit('.', 1)[-1]}")

