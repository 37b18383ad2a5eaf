"""The hash formats of an htpasswd line that nginx (and so ingress-nginx) accepts, recognised
and verified.

`scheme(hashed)` names the format of the part after `user:` (None when no format applies):
- `{SHA}`: base64 of SHA-1(password) (`htpasswd -s`), the only one Envoy's basic_auth checks;
- `{SSHA}`: base64 of SHA-1(password + salt) + salt;
- `{PLAIN}`: the password itself;
- `$apr1$` (`htpasswd -m`, plain `htpasswd`) and `$1$`: MD5-crypt (`md5crypt`);
- `$2y$`, `$2a$`, `$2b$`: bcrypt (`htpasswd -B`), checked with the `bcrypt` package (which, as
  Apache does, looks at the first 72 bytes of a password);
- `$5$`, `$6$`: SHA-256/512-crypt (`shacrypt`).
Work factors are bounded, so one Secret cannot make every check of a proxy wait: bcrypt cost up
to 17 (`htpasswd -B -C` allows no more), SHA-crypt up to 1,000,000 rounds (glibc's default is
5000). `unsupported(hashed)` says what a line of another format looks like, for an error
message.
A password is at most `MAX_PASSWORD` bytes (a longer one never matches and is not hashed):
crypt work grows with the password's length (SHA-crypt hashes it as many times as it has
bytes), and the password is whatever a client sends.
`verify(password, hashed)` compares bytes in constant time (a salt may be of any characters);
a malformed hash never matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

import bcrypt

from propylon.htpasswd.md5crypt import md5_crypt
from propylon.htpasswd.shacrypt import sha_crypt

SHA = "{SHA}"
SSHA = "{SSHA}"
PLAIN = "{PLAIN}"
APR1 = "$apr1$"
MD5 = "$1$"
SHA256 = "$5$"
SHA512 = "$6$"
BCRYPT = ("$2y$", "$2a$", "$2b$")
SHA1_BYTES = 20
BCRYPT_MAX_PASSWORD = 72
_CRYPT64 = "[./0-9A-Za-z]"
_SHAPES = {
    APR1: re.compile(rf"\$apr1\$[^$]{{0,8}}\${_CRYPT64}{{22}}"),
    MD5: re.compile(rf"\$1\$[^$]{{0,8}}\${_CRYPT64}{{22}}"),
    SHA256: re.compile(rf"\$5\$(rounds=[0-9]+\$)?[^$]{{0,16}}\${_CRYPT64}{{43}}"),
    SHA512: re.compile(rf"\$6\$(rounds=[0-9]+\$)?[^$]{{0,16}}\${_CRYPT64}{{86}}"),
    "$2": re.compile(rf"\$2[aby]\$[0-9]{{2}}\${_CRYPT64}{{53}}"),
}
MAX_BCRYPT_COST = 17
MAX_SHA_CRYPT_ROUNDS = 1_000_000
MAX_PASSWORD = 4096  # bytes
NAMES = {SHA: "SHA-1", SSHA: "salted SHA-1", PLAIN: "plain text", APR1: "Apache MD5",
         MD5: "MD5-crypt", SHA256: "SHA-256-crypt", SHA512: "SHA-512-crypt", "$2": "bcrypt"}


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        return None


def scheme(hashed: str) -> str | None:
    """The format of `hashed` (a key of `NAMES`), or None if it is none of them or malformed."""
    if hashed.startswith(SHA):
        raw = _b64(hashed[len(SHA):])
        return SHA if raw is not None and len(raw) == SHA1_BYTES else None
    if hashed.startswith(SSHA):
        raw = _b64(hashed[len(SSHA):])
        return SSHA if raw is not None and len(raw) > SHA1_BYTES else None
    if hashed.startswith(PLAIN):
        return PLAIN
    for prefix, shape in _SHAPES.items():
        if hashed.startswith(prefix):
            return prefix if shape.fullmatch(hashed) and not _too_costly(hashed) else None
    return None


def _too_costly(hashed: str) -> bool:
    """Whether a well-shaped hash asks for more work than the bounds of the module docstring."""
    parts = hashed.split("$")
    if hashed.startswith("$2"):
        return int(parts[2]) > MAX_BCRYPT_COST
    if parts[2].startswith("rounds="):
        return int(parts[2][len("rounds="):]) > MAX_SHA_CRYPT_ROUNDS
    return False


def unsupported(hashed: str) -> str:
    """What `hashed`, of no supported format, looks like (for an error message)."""
    for prefix, name in NAMES.items():
        if hashed.startswith(prefix):
            if prefix in _SHAPES and _SHAPES[prefix].fullmatch(hashed):
                return (f"a {name} hash of more work than checked (bcrypt cost at most "
                        f"{MAX_BCRYPT_COST}, SHA-crypt rounds at most {MAX_SHA_CRYPT_ROUNDS})")
            return f"a malformed {name} hash"
    if re.fullmatch(f"{_CRYPT64}{{13}}", hashed):
        return "a DES-crypt hash (htpasswd -d), which is too weak to accept"
    if hashed.startswith("$"):
        return f'the unknown scheme "{hashed.split("$")[1][:16]}"'
    return "no known hash format"


def verify(password: bytes, hashed: str) -> bool:
    """Whether `password` matches `hashed` (False for a format `scheme` does not recognise
    or a password over `MAX_PASSWORD`)."""
    kind = scheme(hashed) if len(password) <= MAX_PASSWORD else None
    if kind == SHA:
        return hmac.compare_digest(base64.b64encode(hashlib.sha1(password).digest()).decode(),
                                   hashed[len(SHA):])
    if kind == SSHA:
        raw = _b64(hashed[len(SSHA):]) or b""
        return hmac.compare_digest(hashlib.sha1(password + raw[SHA1_BYTES:]).digest(),
                                   raw[:SHA1_BYTES])
    if kind == PLAIN:
        return hmac.compare_digest(password, hashed[len(PLAIN):].encode())
    if kind in (APR1, MD5):
        return hmac.compare_digest(
            md5_crypt(password, hashed[len(kind):].split("$", 1)[0], kind).encode(),
            hashed.encode())
    if kind in (SHA256, SHA512):
        return hmac.compare_digest(sha_crypt(password, hashed[len(kind):], kind).encode(),
                                   hashed.encode())
    if kind == "$2":
        return bcrypt.checkpw(password[:BCRYPT_MAX_PASSWORD], hashed.encode())
    return False
