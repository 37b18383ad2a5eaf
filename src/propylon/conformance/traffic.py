"""Traffic checks over many requests: weighted splits and mirrors read from pod logs.

`weighted(send, weights)`: 500 requests, 10 at a time, half of them with an `X-Jitter` header
(gRPC: `x-jitter` metadata); `send(extra_headers)` returns the echoed pod name ("" for an
answer that is not an echo); the backend of an answer is that name minus the last two `-`
segments; each share
must be within 5 percentage points of the expected fraction and a zero-weight backend must get
nothing. The whole check is retried up to 10 times (HARNESS.md 4.3).

`mirrored(targets, path)`: for every mirror target (name -> the log files of its pods), the logs
of its pods must contain the line echo-basic prints for the request, `Echoing back request made
to <path?query> to client`, polled every second for up to 10 s (HARNESS.md 4.5).

`mirrored_percent(send_many, logs, path_prefix, percent)`: rounds of 500 requests to a path
unique to the round; the mirrored count read from the logs must be within 3 standard deviations
of the binomial expectation (n=500, p=percent/100); up to 5 rounds.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

REQUESTS = 500
CONCURRENCY = 10
TOLERANCE = 0.05
ROUNDS = 10
MIRROR_WAIT_S = 10.0


def backend_of(pod: str) -> str:
    return "-".join(pod.split("-")[:-2])


def split_error(counts: Mapping[str, int], weights: Mapping[str, float]) -> str | None:
    """None when the observed counts match the expected fractions, else the mismatch."""
    total = sum(counts.values())
    if not total:
        return "no request reached a backend"
    unexpected = set(counts) - set(weights)
    if unexpected:
        return f"requests reached unexpected backends {sorted(unexpected)}: {dict(counts)}"
    for backend, weight in weights.items():
        share = counts.get(backend, 0) / total
        if weight == 0 and counts.get(backend, 0):
            return f"{backend} has weight 0 but got {counts[backend]} requests"
        if abs(share - weight) > TOLERANCE:
            return f"{backend} got {share:.1%} of the requests, expected {weight:.0%}: {dict(counts)}"
    return None


async def weighted(send: Callable[[dict[str, str]], Awaitable[str]],
                   weights: Mapping[str, float]) -> str | None:
    reason: str | None = None
    for _ in range(ROUNDS):
        counts: Counter[str] = Counter()
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(semaphore: asyncio.Semaphore, counts: Counter[str]) -> None:
            headers = {"X-Jitter": str(random.randint(0, 9999))} if random.random() < 0.5 else {}
            async with semaphore:
                pod = await send(headers)
            counts[backend_of(pod) if pod else "no echo answer"] += 1

        await asyncio.gather(*(one(semaphore, counts) for _ in range(REQUESTS)))
        reason = split_error(counts, weights)
        if reason is None:
            return None
    return reason


def log_line(path: str) -> re.Pattern[str]:
    return re.compile(f"Echoing back request made to {re.escape(path)} to client")


async def mirrored(targets: Mapping[str, Sequence[Path]], path: str) -> str | None:
    pattern = log_line(path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MIRROR_WAIT_S
    while True:
        missing = [name for name, logs in targets.items()
                   if not any(p.exists() and pattern.search(p.read_text()) for p in logs)]
        if not missing:
            return None
        if loop.time() >= deadline:
            return f"request {path} was not mirrored to {', '.join(missing)}"
        await asyncio.sleep(1.0)


PERCENT_ROUNDS = 5


async def in_batches(calls: Sequence[Awaitable[Any]]) -> None:
    """Await the calls, CONCURRENCY at a time."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Awaitable[Any]) -> None:
        async with semaphore:
            await call

    await asyncio.gather(*(one(c) for c in calls))


def percent_error(count: int, percent: float, n: int = REQUESTS) -> str | None:
    p = percent / 100
    sigma = math.sqrt(n * p * (1 - p))
    if abs(count - n * p) <= 3 * sigma:
        return None
    return f"{count} of {n} requests mirrored, expected {n * p:.0f} +/- {3 * sigma:.0f}"


async def mirrored_percent(send_many: Callable[[str], Awaitable[None]], logs: Sequence[Path],
                           path_prefix: str, percent: float) -> str | None:
    reason: str | None = None
    for _ in range(PERCENT_ROUNDS):
        path = f"{path_prefix}={uuid.uuid4()}"
        await send_many(path)
        await asyncio.sleep(1.0)  # let the last mirrored requests reach the logs
        pattern = log_line(path)
        count = sum(len(pattern.findall(p.read_text())) for p in logs if p.exists())
        reason = percent_error(count, percent)
        if reason is None:
            return None
    return reason
