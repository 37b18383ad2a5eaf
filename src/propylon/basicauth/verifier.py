"""Basic credentials checked against htpasswd lines, as Envoy's basic_auth filter answers.

`Verifier.check(lines, authorization, host, path)` returns an `Answer`: the user name when the
`Authorization: Basic` credentials match a line, else 401 with Envoy's body ("User
authentication failed. Missing username and password." or "... Invalid username/password
combination.") and `WWW-Authenticate: Basic realm="http://<host><path>"`, exactly what the
filter sends.

Hashing is CPU-bound (bcrypt at cost 14 takes about a second): it runs in a thread pool of
`workers` threads (bcrypt releases the GIL), so the event loop keeps serving. A success is
remembered for `ttl` seconds under a keyed hash (HMAC-SHA256 with a key of this process) of
user, stored hash and password, so neither the password nor a fast hash of it is kept; at most
`max_entries` are, the oldest dropped first. Failures are never cached.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from propylon.htpasswd import formats, lines

MISSING = "User authentication failed. Missing username and password."
INVALID = "User authentication failed. Invalid username/password combination."


@dataclass(frozen=True)
class Answer:
    user: str | None  # the authenticated user, or None: refused with 401
    body: str = ""
    challenge: str = ""  # the WWW-Authenticate value of a refusal


def credentials(authorization: str) -> tuple[str, bytes] | None:
    """(user, password) of a `Basic` Authorization value, or None."""
    kind, _, token = authorization.strip().partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode(), password
    except UnicodeDecodeError:
        return None


class Verifier:
    """Checks credentials (see the module docstring)."""

    def __init__(self, workers: int = 2, ttl: float = 60.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="htpasswd")
        self._ttl, self._max, self._clock = ttl, max_entries, clock
        self._key = os.urandom(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()  # keyed hash -> expiry

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _cache_key(self, user: str, hashed: str, password: bytes) -> bytes:
        message = b"\0".join((user.encode(), hashed.encode(), password))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _remembered(self, key: bytes) -> bool:
        expiry = self._verified.get(key)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del self._verified[key]
            return False
        return True

    def _remember(self, key: bytes) -> None:
        self._verified[key] = self._clock() + self._ttl
        self._verified.move_to_end(key)
        while len(self._verified) > self._max:
            self._verified.popitem(last=False)

    async def check(self, htpasswd: str, authorization: str, host: str, path: str) -> Answer:
        """The answer to a request with `authorization` for `host` and `path`."""
        challenge = f'Basic realm="http://{host}{path}"'
        given = credentials(authorization) if authorization else None
        if given is None:
            return Answer(None, MISSING, challenge)
        user, password = given
        entry = next((e for e in lines.read(htpasswd).entries if e.user == user), None)
        if entry is None:
            return Answer(None, INVALID, challenge)
        key = self._cache_key(user, entry.hashed, password)
        if self._remembered(key):
            return Answer(user)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self._pool, formats.verify, password, entry.hashed):
            return Answer(None, INVALID, challenge)
        self._remember(key)
        return Answer(user)
