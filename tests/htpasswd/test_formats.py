"""Every htpasswd hash format nginx accepts: known vectors (from `openssl passwd` and the
formats' reference test vectors) match, a wrong password does not, malformed hashes are not
recognised and never match."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest

from propylon.htpasswd import formats
from propylon.htpasswd.md5crypt import md5_crypt
from propylon.htpasswd.shacrypt import sha_crypt

LONG = "a very much longer text to encrypt.  This one even stretches over morethan one line."
SSHA_BAR = "{SSHA}" + base64.b64encode(hashlib.sha1(b"barsalt!").digest() + b"salt!").decode()
# (password, hash): openssl passwd -apr1/-1/-5/-6 outputs, bcrypt's OpenBSD vector, htpasswd -s
VECTORS = [
    ("bar", "$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv."),
    ("", "$apr1$x$tMwYqBfQwi3FYAr0aJc8M/"),
    ("secret", "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"),
    ("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    ("Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2."
                     "opqey6IcA"),
    ("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI6"
                     "8u4OTLiBFdcbYEdFCoEOfaS35inz1"),
    (LONG, "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3"
           "CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"),
    ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
    ("U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
    ("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
    ("bar", "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00="),
    ("bar", SSHA_BAR),
    ("bar", "{PLAIN}bar"),
    # a salt of non-ASCII characters (openssl passwd -apr1/-6 -salt 'sé')
    ("secret", "$apr1$s\u00e9$eh9tE0lU57A7NYKyAwIdR."),
    ("secret", "$6$s\u00e9$h8xZmsCeQDNSbwkaoARuFo7nd4Nsyo7fwPHJW5JjwVCQV01kNs7sD.vOB/Dw1yfpdKzOEw"
               "/hA7sFW0pRPEFRf0"),
]


@pytest.mark.parametrize(("password", "hashed"), VECTORS)
def test_known_vectors_match(password: str, hashed: str) -> None:
    assert formats.scheme(hashed) is not None
    assert formats.verify(password.encode(), hashed)


@pytest.mark.parametrize(("password", "hashed"), VECTORS)
def test_a_wrong_password_does_not(password: str, hashed: str) -> None:
    assert not formats.verify(password.encode() + b"x", hashed)


def test_crypt_computations_reproduce_openssl() -> None:
    assert md5_crypt(b"bar", "saltsalt", "$apr1$") == "$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv."
    assert sha_crypt(b"Hello world!", "rounds=10000$saltstringsaltstring", "$5$") == \
        VECTORS[4][1]


def test_bcrypt_compares_the_first_72_bytes_as_apache() -> None:
    hashed = "$2y$04$wHxWVFcqv1CXVBKNIqG5VO4N8ZuVD1VRZ7zGJ8MP7SQ3wBa1AdlCW"
    assert formats.verify(b"foo", hashed) is False
    long = b"p" * 80
    made = bcrypt.hashpw(long[:72], bcrypt.gensalt(4)).decode()
    assert formats.verify(long, made) and formats.verify(long + b"more", made)


@pytest.mark.parametrize(("hashed", "said"), [
    ("$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv", "a malformed Apache MD5 hash"),
    ("$2y$05$tooshort", "a malformed bcrypt hash"),
    ("$6$salt$short", "a malformed SHA-512-crypt hash"),
    ("{SHA}bm90IGEgc2hhMQ==", "a malformed SHA-1 hash"),
    ("{SSHA}!!", "a malformed salted SHA-1 hash"),
    ("rl7U5i3GE5lyg", "a DES-crypt hash (htpasswd -d), which is too weak to accept"),
    ("$3$abc", 'the unknown scheme "3"'),
    ("", "no known hash format"),
    ("$2y$18$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
     "a bcrypt hash of more work than checked (bcrypt cost at most 17, SHA-crypt rounds at "
     "most 1000000)"),
    ("$6$rounds=999999999$salt$" + "a" * 86,
     "a SHA-512-crypt hash of more work than checked (bcrypt cost at most 17, SHA-crypt rounds "
     "at most 1000000)"),
])
def test_malformed_and_unknown_hashes_are_named_and_never_match(hashed: str, said: str) -> None:
    assert formats.scheme(hashed) is None
    assert formats.unsupported(hashed) == said
    assert not formats.verify(b"bar", hashed)


@pytest.mark.parametrize("kind", ["$5$rounds=1000$", "$1$", "{PLAIN}"])
def test_a_password_over_the_bound_is_never_hashed_nor_matched(kind: str) -> None:
    """Crypt work grows with the password (SHA-crypt hashes it len(password) times): a client
    cannot make one check cost more than a password of `MAX_PASSWORD` bytes."""
    def hashed(password: bytes) -> str:
        if kind == "{PLAIN}":
            return kind + password.decode()
        if kind == "$1$":
            return md5_crypt(password, "salt", kind)
        return sha_crypt(password, "rounds=1000$salt", "$5$")
    longest = b"p" * formats.MAX_PASSWORD
    assert formats.verify(longest, hashed(longest))
    assert not formats.verify(longest + b"p", hashed(longest + b"p"))
