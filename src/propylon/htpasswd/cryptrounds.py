"""The rounds MD5-crypt and SHA-crypt share: each round hashes, in turn, either the password
bytes or the previous digest, the salt bytes unless the round is a multiple of 3, the password
bytes again unless it is a multiple of 7, and then whichever of the two it did not start with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def mix_rounds(hash_fn: Callable[[bytes], Any], rounds: int, password: bytes, salt: bytes,
              digest: bytes) -> bytes:
    """The digest after `rounds` rounds from `digest` (`password` and `salt` are the byte
    sequences the scheme derived: the raw ones for MD5-crypt, P and S for SHA-crypt)."""
    for i in range(rounds):
        step = hash_fn(password if i & 1 else digest)
        if i % 3:
            step.update(salt)
        if i % 7:
            step.update(password)
        step.update(digest if i & 1 else password)
        digest = step.digest()
    return digest
