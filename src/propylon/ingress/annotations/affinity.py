"""`affinity: cookie` with `session-cookie-*`, `load-balance`, `upstream-hash-by`: a
BackendTrafficPolicy `loadBalancer`.

Sticky sessions: ingress-nginx issues a cookie (`session-cookie-name`, default INGRESSCOOKIE;
`-path`, `-domain`, `-secure`, `-samesite`, and `-max-age` or else `-expires` in seconds, none:
a session cookie) naming the endpoint, and sends a request carrying it to that endpoint.
Converted to a consistent hash on that cookie, which Envoy issues itself when a request has
none (`ttl`, 0s for a session cookie, and the attributes). What differs: the endpoint is found
by hashing the cookie, so when endpoints come or go some sessions move (ingress-nginx's
`affinity-mode: balanced`; `persistent` never moves a session), and the cookie's value is a
hash, not the endpoint's name. Not convertible: `session-cookie-change-on-failure` and
`session-cookie-conditional-samesite-none` (Envoy neither reissues the cookie after a failed
endpoint nor looks at the browser).
`load-balance`: `round_robin` -> RoundRobin; `ewma` (peak latency) -> LeastRequest, which
differs. `upstream-hash-by` (an nginx variable) -> ConsistentHash on the client address
(`$remote_addr`, `$binary_remote_addr`), a header (`$http_<name>`), a cookie
(`$cookie_<name>`) or a query parameter (`$arg_<name>`); other values (e.g. `$request_uri`)
and the `-subset` options are not convertible. `affinity-canary-behavior`: the canary is chosen
for each request, so `legacy` is what a converted Ingress does and `sticky` differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    DIFFERS,
    REFUSED,
    Made,
    Note,
    family,
    policy,
)
from propylon.ingress.annotations.policyvalues import boolean, duration
from propylon.ingress.effects import Context, Converted

COOKIE_ANNOTATIONS = ("affinity", "affinity-mode", "session-cookie-name", "session-cookie-path",
                      "session-cookie-domain", "session-cookie-secure",
                      "session-cookie-samesite", "session-cookie-max-age",
                      "session-cookie-expires")
REFUSALS = {
    "session-cookie-change-on-failure": "not convertible: Envoy does not issue a new cookie "
                                        "when the cookie's endpoint fails",
    "session-cookie-conditional-samesite-none": "not convertible: Envoy does not look at the "
                                                "browser's User-Agent to set SameSite",
    "upstream-hash-by-subset": "not convertible: Envoy Gateway's consistent hash has no "
                               "subsets",
    "upstream-hash-by-subset-size": "not convertible: Envoy Gateway's consistent hash has no "
                                    "subsets",
}
ANNOTATIONS = (*COOKIE_ANNOTATIONS, "load-balance", "upstream-hash-by", *REFUSALS)
DEFAULT_COOKIE = "INGRESSCOOKIE"
_VARIABLE = re.compile(r"^\$(http|cookie|arg)_([A-Za-z0-9_-]+)$")


def made(ctx: Context) -> Made:
    """The load balancing of an Ingress."""
    annotations = ctx.annotations
    notes = [Note(name, REFUSED, message) for name, message in REFUSALS.items()
             if name in annotations]
    sticky = annotations.get("affinity", "").strip() == "cookie"
    balancer: dict[str, Any] | None = None
    if sticky:
        balancer = _cookie(annotations)
        notes.extend(_cookie_notes(annotations))
    elif any(name in annotations for name in COOKIE_ANNOTATIONS):
        notes.extend(Note(name, CONVERTED, "no effect without affinity: cookie, as in "
                          "ingress-nginx") for name in COOKIE_ANNOTATIONS if name in annotations)
    if "upstream-hash-by" in annotations:
        hashed, note = _hash(annotations["upstream-hash-by"].strip())
        notes.append(note)
        if balancer is None and hashed is not None:
            balancer = hashed
    if "load-balance" in annotations:
        algorithm = annotations["load-balance"].strip()
        if balancer is not None:
            notes.append(Note("load-balance", CONVERTED, "overridden by affinity or "
                              "upstream-hash-by, as in ingress-nginx"))
        elif algorithm == "round_robin":
            balancer = {"type": "RoundRobin"}
            notes.append(Note("load-balance", CONVERTED, "BackendTrafficPolicy loadBalancer "
                              "RoundRobin"))
        elif algorithm == "ewma":
            balancer = {"type": "LeastRequest"}
            notes.append(Note("load-balance", DIFFERS, "BackendTrafficPolicy loadBalancer "
                              "LeastRequest: the endpoint with fewest requests in flight, "
                              "where ewma weighs each endpoint's recent latency"))
        else:
            notes.append(Note("load-balance", DIFFERS, f"{algorithm!r} is not an algorithm of "
                              "ingress-nginx (round_robin, ewma): ignored"))
    if balancer is None:
        return Made(notes=tuple(notes))
    return policy("BackendTrafficPolicy", {"loadBalancer": balancer}, notes)


def _cookie(annotations: Mapping[str, str]) -> dict[str, Any]:
    name = annotations.get("session-cookie-name", "").strip() or DEFAULT_COOKIE
    ttl = next((annotations[n].strip() for n in ("session-cookie-max-age",
                                                 "session-cookie-expires")
                if annotations.get(n, "").strip().isdigit()), "0")
    attributes = {"Path": annotations.get("session-cookie-path", "").strip() or "/"}
    if annotations.get("session-cookie-domain", "").strip():
        attributes["Domain"] = annotations["session-cookie-domain"].strip()
    if annotations.get("session-cookie-samesite", "").strip():
        attributes["SameSite"] = annotations["session-cookie-samesite"].strip()
    cookie: dict[str, Any] = {"name": name, "ttl": duration(int(ttl) * 1000), "attributes": attributes}
    if boolean(annotations.get("session-cookie-secure", "")):
        attributes["Secure"] = ""
    return {"type": "ConsistentHash", "consistentHash": {"type": "Cookie", "cookie": cookie}}


def _cookie_notes(annotations: Mapping[str, str]) -> list[Note]:
    notes = []
    for name in COOKIE_ANNOTATIONS:
        if name not in annotations:
            continue
        if name == "affinity":
            notes.append(Note(name, DIFFERS, "BackendTrafficPolicy loadBalancer ConsistentHash "
                              "on the cookie, issued by Envoy; differs: the cookie holds a hash, "
                              "and some sessions move when endpoints come or go"))
        elif name == "session-cookie-expires":
            notes.append(Note(name, DIFFERS, "the cookie Envoy issues lives as long, told by "
                              "Max-Age rather than an Expires date"))
        elif name == "affinity-mode" and annotations[name].strip() == "persistent":
            notes.append(Note(name, DIFFERS, "persistent is not kept: with a consistent hash "
                              "some sessions move when endpoints come or go (balanced)"))
        else:
            notes.append(Note(name, CONVERTED, "the cookie Envoy issues (consistentHash.cookie)"))
    return notes


def _hash(variable: str) -> tuple[dict[str, Any] | None, Note]:
    if variable in ("$remote_addr", "$binary_remote_addr"):
        return ({"type": "ConsistentHash", "consistentHash": {"type": "SourceIP"}},
                Note("upstream-hash-by", CONVERTED, "BackendTrafficPolicy ConsistentHash "
                     "SourceIP"))
    found = _VARIABLE.match(variable)
    if found is None:
        return None, Note("upstream-hash-by", REFUSED, f"not convertible: {variable!r}: Envoy "
                          "Gateway hashes the client address, a header, a cookie or a query "
                          "parameter ($remote_addr, $http_<name>, $cookie_<name>, "
                          "$arg_<name>)")
    source, name = found[1], found[2]
    if source == "http":
        hashed: dict[str, Any] = {"type": "Header",
                                  "header": {"name": name.replace("_", "-")}}
    elif source == "cookie":
        hashed = {"type": "Cookie", "cookie": {"name": name}}
    else:
        hashed = {"type": "QueryParams", "queryParams": [{"name": name}]}
    return ({"type": "ConsistentHash", "consistentHash": hashed},
            Note("upstream-hash-by", CONVERTED, f"BackendTrafficPolicy ConsistentHash "
                 f"{hashed['type']}"))


def canary_behavior(ctx: Context, value: str) -> Converted:
    """`affinity-canary-behavior`: whether a session pinned to the canary stays there."""
    if value.strip() == "legacy":
        return Converted((), CONVERTED, "the canary is chosen for each request by its weight or "
                         "header, whatever the session cookie, as legacy does")
    return Converted((), DIFFERS, "not sticky: the canary is chosen for each request by its "
                     "weight or header; the session cookie keeps the endpoint within the chosen "
                     "backend only")


CONVERTERS = {**family(ANNOTATIONS, made), "affinity-canary-behavior": canary_behavior}
