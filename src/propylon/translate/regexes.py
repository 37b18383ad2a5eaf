"""Regular expressions as Envoy judges them, before they are sent.

Envoy compiles every `safe_regex` with RE2 and refuses the whole resource (a virtual host) when
one fails, so each regular expression a route gives Envoy is compiled here with RE2 itself (the
`google-re2` package) the way Envoy 1.40 does, and `problem(regex)` says what Envoy would say:

- RE2's own parse error (no lookaround, no backreferences, ...), with RE2's text;
- a program larger than Envoy's limit: Envoy's `re2.max_program_size.error_level` runtime value,
  100 by default (our bootstrap sets no runtime), compared with RE2's program size.

Checked with the real binary (`envoy --mode validate` on a route with the regex): Envoy 1.40's
RE2 parses the pattern's UTF-8 bytes as Latin-1 (`\\x{100}` is an invalid escape, `.` and
`\\pL` cost one or two instructions, `é` costs two), and its program sizes and error texts are
exactly those of RE2 compiled here with Latin-1 encoding; with UTF-8 the sizes of Unicode
classes would be hundreds and refuse what Envoy takes. Results are cached by pattern.

Regexes built from other values are built here too, so that the text checked is the text sent:
`origin_regex` (a CORS allowed origin, used by `xds.translate.cors`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import re2

#: Envoy's default `re2.max_program_size.error_level`: a larger RE2 program is refused.
MAX_PROGRAM_SIZE = 100

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.encoding = re2.Options.Encoding.LATIN1


@lru_cache(maxsize=4096)
def problem(regex: str) -> str | None:
    """Why Envoy would refuse `regex` (a sentence ending with the fix), or None if it takes it."""
    try:
        size = re2.compile(regex.encode(), _OPTIONS).programsize
    except re2.error as e:
        reason = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) \
            else str(e)
        return (f'regular expression "{regex}" is not valid RE2 syntax ({reason}): use RE2 '
                "syntax (no lookaround, no backreferences; see "
                "https://github.com/google/re2/wiki/Syntax)")
    if size > MAX_PROGRAM_SIZE:
        return (f'regular expression "{regex}" is too complex for Envoy (RE2 program size {size}, '
                f"at most {MAX_PROGRAM_SIZE}): simplify it, e.g. fewer character classes or "
                "repetitions, or use an Exact or PathPrefix match")
    return None


def origin_regex(origin: str, star: str = ".*") -> str:
    """The anchored regex of a CORS allowed origin: `*` stands for any characters (any number of
    DNS labels to its left; `star` if given, another regex), and an origin without port also
    matches its scheme's default port, as the Gateway API defines."""
    if origin == "*":
        return star
    scheme, sep, rest = origin.partition("://")
    body = star.join(re.escape(part) for part in (rest if sep else origin).split("*"))
    default_port = _DEFAULT_PORTS.get(scheme.lower()) if sep else None
    if default_port is not None and ":" not in rest:
        body += f"(:{default_port})?"
    return f"^{re.escape(scheme)}://{body}$" if sep else f"^{body}$"
