"""Why a controller replica is not ready: each reason on its own, and the grace of a watch."""

from __future__ import annotations

from dataclasses import dataclass

from propylon.controller.readiness import unready_reasons


@dataclass
class Informer:
    failing_since: float | None = None


def test_ready_only_when_synced_serving_xds_and_watching() -> None:
    ok = {"Gateway": Informer(), "proxies/Deployment": Informer()}
    assert unready_reasons(reconciles=1, xds_serving=True, informers=ok, now=100.0,
                           watch_grace_s=30.0) == []
    [reason] = unready_reasons(reconciles=0, xds_serving=True, informers=ok, now=100.0,
                               watch_grace_s=30.0)
    assert "not synced" in reason
    [reason] = unready_reasons(reconciles=1, xds_serving=False, informers=ok, now=100.0,
                               watch_grace_s=30.0)
    assert "xDS server" in reason


def test_a_lost_watch_counts_only_after_the_grace() -> None:
    informers = {"Gateway": Informer(), "proxies/Deployment": Informer(failing_since=80.0)}
    assert unready_reasons(reconciles=1, xds_serving=True, informers=informers, now=100.0,
                           watch_grace_s=30.0) == []
    [reason] = unready_reasons(reconciles=1, xds_serving=True, informers=informers, now=120.0,
                               watch_grace_s=30.0)
    assert reason.startswith("informer proxies/Deployment: ")
