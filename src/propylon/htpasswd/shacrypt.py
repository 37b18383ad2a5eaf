"""SHA-crypt (`$5$` SHA-256, `$6$` SHA-512: glibc crypt, Ulrich Drepper's specification).

The salt (at most 16 characters) may be preceded by `rounds=N$` (N clamped to 1000..999999999,
5000 when absent). Digest A mixes password, salt and digest B (password + salt + password);
byte sequences P and S are derived from the password and the salt; then N rounds alternate P,
S and the previous digest, and the result is written in crypt's base64 in the specification's
byte order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from propylon.htpasswd.cryptbase64 import encode_groups
from propylon.htpasswd.cryptrounds import mix_rounds

DEFAULT_ROUNDS = 5000
MIN_ROUNDS, MAX_ROUNDS = 1000, 999_999_999
MAX_SALT = 16
ROUNDS_PREFIX = "rounds="


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _digest(hash_fn: Callable[[bytes], Any], password: bytes, salt: bytes, rounds: int) -> bytes:
    b = hash_fn(password + salt + password).digest()
    ctx = hash_fn(password + salt)
    ctx.update(_repeat(b, len(password)))
    n = len(password)
    while n:
        ctx.update(b if n & 1 else password)
        n >>= 1
    a = ctx.digest()
    p = _repeat(hash_fn(password * len(password)).digest(), len(password))
    s = _repeat(hash_fn(salt * (16 + a[0])).digest(), len(salt))
    return mix_rounds(hash_fn, rounds, p, s, a)


def _sha256_order(c: bytes) -> str:
    groups = []
    for k in range(10):
        a, b, d = c[k], c[k + 10], c[k + 20]
        groups.append(((a, b, d), (d, a, b), (b, d, a))[k % 3] + (4,))
    return encode_groups([*groups, (0, c[31], c[30], 3)])


def _sha512_order(c: bytes) -> str:
    groups = []
    for k in range(21):
        a, b, d = c[k], c[k + 21], c[k + 42]
        groups.append(((a, b, d), (b, d, a), (d, a, b))[k % 3] + (4,))
    return encode_groups([*groups, (0, 0, c[63], 2)])


def sha_crypt(password: bytes, setting: str, magic: str) -> str:
    """The whole hash of `password` under `setting` (`[rounds=N$]salt[$...]`, what follows the
    magic `$5$` or `$6$`)."""
    rounds, explicit = DEFAULT_ROUNDS, False
    if setting.startswith(ROUNDS_PREFIX):
        number, _, setting = setting[len(ROUNDS_PREFIX):].partition("$")
        rounds, explicit = min(max(int(number), MIN_ROUNDS), MAX_ROUNDS), True
    salt = setting.split("$", 1)[0][:MAX_SALT]
    sha256 = magic == "$5$"
    c = _digest(hashlib.sha256 if sha256 else hashlib.sha512, password, salt.encode(), rounds)
    prefix = f"{magic}{ROUNDS_PREFIX}{rounds}$" if explicit else magic
    return f"{prefix}{salt}${_sha256_order(c) if sha256 else _sha512_order(c)}"
