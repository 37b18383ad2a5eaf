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
Envoy keeps a session within one cluster, so a rule with a session and several backends is
served by one cluster of its own, `httproute/<namespace>/<name>/rule/<index>` (`shared_cluster`),
holding the endpoints of all of them, each weighted so every backend keeps its share of the
rule's traffic; this needs the backends to be reached alike (protocol, TLS, connection
settings) and to have no filters of their own, or the rule is refused.
What the CRD refuses (a Permanent cookie without `absoluteTimeout`, a timeout that is not a
duration, another type) is refused here too (UnsupportedValue) for objects that did not go
through it, and so is a header name that is not an HTTP token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from propylon.api.formats import duration_ms
from propylon.api.httproute import SessionPersistence
from propylon.api.validation import DURATION
from propylon.ir.model import Cluster, Endpoint, PathMatch, Session, WeightedBackend

WEIGHT_SCALE = 1_000_000  # a shared cluster's endpoint weights add up to about this

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_REGEX_META = re.compile(r"[\\.^$|?*+()\[\]{}]")
_DURATION = re.compile(DURATION)


def problems(index: int, session: SessionPersistence) -> list[str]:
    """What is wrong with rule `index`'s session, each naming the field and the fix."""
    path = f"spec.rules[{index}].sessionPersistence"
    out = []
    if session.type not in ("Cookie", "Header"):
        out.append(f"{path}.type {session.type!r} is not supported: use Cookie or Header")
    if session.absolute_timeout is not None and not _DURATION.match(session.absolute_timeout):
        out.append(f"{path}.absoluteTimeout {session.absolute_timeout!r} is not a duration: "
                   "write it as 1h, 30s or 500ms")
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
    ttl = duration_ms(session.absolute_timeout) if session.lifetime == "Permanent" \
        and session.absolute_timeout is not None \
        and _DURATION.match(session.absolute_timeout) else None
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


def shared_cluster(name: str, index: int, weighted: tuple[WeightedBackend, ...],
                   clusters: Mapping[str, Cluster]) -> tuple[Cluster | None, str | None]:
    """The one cluster `name` serving a session rule's several backends (module docstring;
    its endpoints are filled from its `members` with `member_endpoints`), or None when the
    rule has at most one; and the reason it cannot be made, if any."""
    usable = [(w, clusters[w.cluster]) for w in weighted
              if w.cluster is not None and w.weight > 0 and w.cluster in clusters]
    if len(usable) < 2:
        return None, None
    path = f"spec.rules[{index}]"
    if any(w.request_headers is not None or w.response_headers is not None for w, _ in usable):
        return None, (f"{path}: a session over several backendRefs keeps them in one cluster, "
                      "so they cannot have filters of their own: move the filters to the rule")
    first = usable[0][1]
    if any((c.protocol, c.tls, c.connection) != (first.protocol, first.tls, first.connection)
           for _, c in usable):
        return None, (f"{path}: a session over several backendRefs needs backends reached "
                      "alike (protocol, TLS): split the rule")
    return replace(first, name=name, members=tuple((c.name, w.weight) for w, c in usable)), None


def member_endpoints(members: tuple[tuple[str, int], ...],
                     endpoints_of: Callable[[str], tuple[Endpoint, ...]],
                     ) -> tuple[Endpoint, ...]:
    """The endpoints of a shared cluster: each member's, weighted so the member gets its
    weight's share of the traffic, split evenly among its endpoints (to one part in
    `WEIGHT_SCALE`, at least 1 each)."""
    parts = [(weight, endpoints_of(name)) for name, weight in members]
    total = sum(weight for weight, found in parts if found)
    return tuple(replace(e, weight=max(1, round(weight * WEIGHT_SCALE / (total * len(found)))))
                 for weight, found in parts if found for e in found)
