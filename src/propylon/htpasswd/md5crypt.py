"""MD5-crypt (`$1$`, glibc crypt) and its Apache variant (`$apr1$`, `htpasswd -m`).

Poul-Henning Kamp's algorithm: an MD5 of password, magic and salt (at most 8 characters) mixed
with an MD5 of password + salt + password, then 1000 rounds alternating password, salt and the
previous digest, the 16 bytes written in crypt's base64 alphabet in a fixed byte order. The two
variants differ only in the magic string.
"""

from __future__ import annotations

import hashlib

from propylon.htpasswd.cryptbase64 import encode_groups
from propylon.htpasswd.cryptrounds import mix_rounds

MAX_SALT = 8
ROUNDS = 1000
# (byte, byte, byte) groups of the final digest, most significant first, then the last byte
_ORDER = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))


def md5_crypt(password: bytes, salt: str, magic: str) -> str:
    """The whole hash (`<magic><salt>$<digest>`) of `password` with `salt` and `magic` (`$1$`
    or `$apr1$`)."""
    salt = salt[:MAX_SALT]
    raw_salt, raw_magic = salt.encode(), magic.encode()
    alternate = hashlib.md5(password + raw_salt + password).digest()
    ctx = hashlib.md5(password + raw_magic + raw_salt)
    for left in range(len(password), 0, -16):
        ctx.update(alternate[:min(16, left)])
    n = len(password)
    while n:
        ctx.update(b"\0" if n & 1 else password[:1])
        n >>= 1
    final = mix_rounds(hashlib.md5, ROUNDS, password, raw_salt, ctx.digest())
    groups = [(final[a], final[b], final[c], 4) for a, b, c in _ORDER]
    return f"{magic}{salt}${encode_groups([*groups, (0, 0, final[11], 2)])}"
