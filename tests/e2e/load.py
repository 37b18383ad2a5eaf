"""Client load for end-to-end and fault tests: requests one after the other from a thread.

`Load(request)` calls `request()` (which sends one request on a fresh connection and returns the
HTTP status) in a loop until it is stopped, until `max_requests` were sent or until `max_seconds`
passed, whichever comes first, so a test that loses track of it cannot load the machine forever.
Every outcome is counted; every failure (a status other than 200, or an exception) is kept with
the monotonic times its request was sent and failed, so a test can say where failures fall
relative to a fault rather than only how many there were.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    sent: float  # time.monotonic() when the request was sent
    failed: float  # and when its failure was seen
    reason: str


class Load:
    def __init__(self, request: Callable[[], int], max_requests: int = 100_000,
                 max_seconds: float = 120.0) -> None:
        self.request = request
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.ok = 0
        self.last_ok = 0.0  # when the latest successful request was sent
        self.failures: list[Failure] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def sent(self) -> int:
        return self.ok + len(self.failures)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and self.sent < self.max_requests:
            sent = time.monotonic()
            if sent > deadline:
                return
            try:
                status = self.request()
                reason = "" if status == 200 else f"status {status}"
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                reason = repr(exc)
            if reason:
                self.failures.append(Failure(sent, time.monotonic(), reason))
            else:
                self.ok += 1
                self.last_ok = sent

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
