"""crypt(3)'s base64: 24 bits at a time, least significant 6 bits first, in the alphabet
`./0-9A-Za-z` (not RFC 4648's), shared by MD5-crypt and SHA-crypt."""

from __future__ import annotations

from collections.abc import Iterable

ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def encode_groups(groups: Iterable[tuple[int, int, int, int]]) -> str:
    """Each (high, middle, low byte, characters) group as that many characters."""
    out = []
    for high, middle, low, count in groups:
        word = high << 16 | middle << 8 | low
        for _ in range(count):
            out.append(ALPHABET[word & 0x3F])
            word >>= 6
    return "".join(out)
