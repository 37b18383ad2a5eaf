"""A leader whose renewal hangs steps down by its renew deadline, before its Lease can expire."""

from __future__ import annotations

import asyncio
import time

from propylon.controller.leader import LeaderConfig, LeaderElector
from tests.controller.conftest import Api
from tests.controller.helpers import eventually

LEASE_PATH = "/namespaces/default/leases/propylon-controller"


async def test_a_hung_renewal_cannot_keep_a_stale_leader(api: Api) -> None:
    config = LeaderConfig("default", "replica-a", lease_duration_s=6.0, renew_deadline_s=1.5,
                          retry_period_s=0.2)
    elector = LeaderElector(api.proxied, config)
    task = asyncio.create_task(elector.run())
    release = asyncio.Event()
    hung: list[float] = []

    async def hang() -> None:
        hung.append(time.monotonic())
        await release.wait()

    try:
        await eventually(lambda: elector.leading, "leading")
        api.proxy.before("PUT", LEASE_PATH, hang, times=1000)
        await eventually(lambda: bool(hung), "a renewal hanging")
        await eventually(lambda: not elector.leading, "stepping down", timeout=10.0)
        # Still hung, and before another replica could take the Lease over.
        assert not release.is_set()
        assert time.monotonic() - hung[0] < config.lease_duration_s
        release.set()
        await eventually(lambda: elector.leading, "leading again once the API answers")
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
