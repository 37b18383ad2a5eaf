"""HTTPRoute `sessionPersistence` as the IR session of each of the rule's routes.

As Envoy Gateway does it, a rule's session is kept by Envoy's stateful session filter, which
remembers the chosen endpoint in a cookie or a header and sends later requests carrying it to
that endpoint (a new one is chosen, and remembered, when it is gone):
- `type: Cookie` (the default): the cookie `sessionName` (default
  `httproute-<namespace>-<name>-rule-<index>`), `HttpOnly`, with the Path of the route's match
  (an Exact or PathPrefix value; for a regular expression, its leading literal segments) and,
  for `cookieConfig.lifetimeType: Permanent`, `absoluteTimeout` as its Max-Age (a Session
  cookie has none and lives as long as the browser session);
- `type: Header`: the header `sessionName`, which Envoy sets on the response and reads on
  requests.
`idleTimeout`, which Envoy's filter cannot enforce, is refused (UnsupportedValue), never silently
ignored, and so is a Permanent cookie without `absoluteTimeout` or a header name that is not an
HTTP token.
"""

from __future__ import annotations

import re

from propylon.api.formats import duration_ms
from propylon.api.httproute import SessionPersistence
from propylon.ir.model import PathMatch, Session

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_REGEX_META = re.compile(r"[\\.^$|?*+()\[\]{}]")


def problems(index: int, session: SessionPersistence) -> list[str]:
    """What is wrong with rule `index`'s session, each naming the field and the fix."""
    path = f"spec.rules[{index}].sessionPersistence"
    out = []
    if session.type not in ("Cookie", "Header"):
        out.append(f"{path}.type {session.type!r} is not supported: use Cookie or Header")
    if session.idle_timeout is not None:
        out.append(f"{path}.idleTimeout is not supported by this implementation: remove it "
                   "(absoluteTimeout is)")
    if session.type == "Cookie" and session.lifetime == "Permanent" \
            and session.absolute_timeout is None:
        out.append(f"{path}.absoluteTimeout is required for a Permanent cookie: set it, or "
                   "use lifetimeType Session")
    if session.type == "Header" and session.name is not None and not _TOKEN.match(session.name):
        out.append(f"{path}.sessionName {session.name!r} is not a valid header name: use "
                   "letters, digits and '-'")
    return out


def of(session: SessionPersistence, namespace: str, name: str, index: int,
       match: PathMatch) -> Session:
    """The IR session of a route of rule `index` of HTTPRoute namespace/name with `match`."""
    session_name = session.name or f"httproute-{namespace}-{name}-rule-{index}"
    if session.type == "Header":
        return Session("Header", session_name)
    ttl = duration_ms(session.absolute_timeout) \
        if session.lifetime == "Permanent" and session.absolute_timeout is not None else None
    return Session("Cookie", session_name, ttl, _cookie_path(match))


def _cookie_path(match: PathMatch) -> str:
    if match.type != "RegularExpression":
        return match.value or "/"
    literal = []
    for segment in match.value.split("/"):
        if _REGEX_META.search(segment):
            break
        literal.append(segment)
    return "/".join(literal) or "/"
