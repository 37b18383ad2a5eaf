"""An htpasswd text read line by line: the (user, hash) entries and, for each line no one can
check, a problem naming its number and what is wrong.

Blank lines and lines starting with `#` are skipped; CRLF is LF. A line is `user:hash` with a
hash of a supported format (`formats.scheme`); a second line for a user already given is a
problem too (which password would count is unclear, and Envoy refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass

from propylon.htpasswd import formats


@dataclass(frozen=True)
class Entry:
    user: str
    hashed: str
    scheme: str  # a key of `formats.NAMES`


@dataclass(frozen=True)
class Read:
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]  # "line N (user "u"): what is wrong"

    @property
    def sha_only(self) -> bool:
        """Whether Envoy's basic_auth filter can check every entry (all `{SHA}`)."""
        return all(e.scheme == formats.SHA for e in self.entries)

    def text(self) -> str:
        """The entries as htpasswd lines, newline-terminated."""
        return "".join(f"{e.user}:{e.hashed}\n" for e in self.entries)


def read(text: str) -> Read:
    """The entries and problems of the htpasswd `text`."""
    entries: list[Entry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        hashed = hashed.strip()
        kind = formats.scheme(hashed) if sep and user else None
        where = f'line {number} (user "{user}")' if sep and user else f"line {number}"
        if not sep or not user:
            problems.append(f"{where}: not user:hash")
        elif kind is None:
            problems.append(f"{where}: {formats.unsupported(hashed)}: supported are "
                            "bcrypt, Apache MD5, MD5-, SHA-256- and SHA-512-crypt, {SHA}, "
                            "{SSHA} and {PLAIN}: re-create the line with htpasswd -B (bcrypt)")
        elif user in seen:
            problems.append(f"{where}: names a user of an earlier line: keep one line per user")
        else:
            seen.add(user)
            entries.append(Entry(user, hashed, kind))
    return Read(tuple(entries), tuple(problems))
