"""`enable-cors` and `cors-*`: ingress-nginx's CORS, as a SecurityPolicy `cors` or as
response headers.

ingress-nginx (annotations `enable-cors`, `cors-allow-origin`, `-allow-methods`,
`-allow-headers`, `-expose-headers`, `-allow-credentials`, `-max-age`; none has an effect
without `enable-cors: "true"`) works in two ways:
- allowed origin `*` (the default, also when the list is blank or contains `*`): every
  response carries `Access-Control-Allow-Origin: *` and the other CORS headers, whatever the
  request's Origin, even when it has none. That is a fixed set of response headers, converted
  as such (the route's ResponseHeaderModifier). What differs: a preflight (OPTIONS) is passed to
  the backend, where ingress-nginx answers it with 204 itself.
- a list of origins: an allowed request Origin is echoed back, other origins get no CORS
  header. That is Envoy's CORS filter: a SecurityPolicy `cors`. What differs: `*` in an
  origin (`https://*.example.com`) stands for one DNS label in ingress-nginx and for any number
  of labels in Propylon, and Access-Control-Allow-Methods, -Headers and -Max-Age are sent on
  preflight answers only (browsers read them there only).
Items of the origin list that are not origins (no scheme, say) are dropped, as ingress-nginx
drops them; blank items are ignored. Defaults are ingress-nginx's.
"""

from __future__ import annotations

import re

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    DIFFERS,
    Made,
    Note,
    family,
    policy,
    response_headers,
)
from propylon.ingress.annotations.policyvalues import boolean, duration, items
from propylon.ingress.effects import Context

ANNOTATIONS = ("enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers",
               "cors-expose-headers", "cors-allow-credentials", "cors-max-age")
DEFAULT_METHODS = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
DEFAULT_HEADERS = ("DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
                   "Cache-Control,Content-Type,Range,Authorization")
DEFAULT_MAX_AGE_S = 1728000
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?$",
                     re.IGNORECASE)


def made(ctx: Context) -> Made:
    """The CORS of an Ingress."""
    annotations = ctx.annotations
    present = [name for name in ANNOTATIONS if name in annotations]
    if not present:
        return Made()
    if boolean(annotations.get("enable-cors", "")) is not True:
        return Made(notes=tuple(
            Note(name, CONVERTED, "CORS is off (enable-cors is not \"true\"): no effect, as in "
                 "ingress-nginx") for name in present))
    listed = items(annotations.get("cors-allow-origin", ""))
    origins = tuple(o for o in listed if _ORIGIN.match(o))
    dropped = [o for o in listed if o != "*" and not _ORIGIN.match(o)]
    methods = annotations.get("cors-allow-methods", "").strip() or DEFAULT_METHODS
    headers = annotations.get("cors-allow-headers", "").strip() or DEFAULT_HEADERS
    expose = annotations.get("cors-expose-headers", "").strip()
    credentials = boolean(annotations.get("cors-allow-credentials", "")) is not False
    max_age = _max_age(annotations.get("cors-max-age", ""))
    if "*" in listed or not origins:
        return _any_origin(present, methods, headers, expose, credentials, max_age, dropped)
    spec = {"allowOrigins": list(origins), "allowMethods": list(items(methods)),
            "allowHeaders": list(items(headers)), "maxAge": duration(max_age * 1000),
            "allowCredentials": credentials}
    if expose:
        spec["exposeHeaders"] = list(items(expose))
    notes = [Note(name, CONVERTED, "SecurityPolicy cors") for name in present]
    wildcard = [o for o in origins if "*" in o]
    notes = [_origin_note(n, dropped, wildcard) if n.annotation == "cors-allow-origin" else n
             for n in notes]
    notes = [Note(n.annotation, DIFFERS, "SecurityPolicy cors: sent on preflight (OPTIONS) "
                  "answers only, where ingress-nginx adds it to every response of an allowed "
                  "origin (browsers read it on preflights only)")
             if n.annotation in ("cors-allow-methods", "cors-allow-headers", "cors-max-age")
             else n for n in notes]
    return policy("SecurityPolicy", {"cors": spec}, notes)


def _any_origin(present: list[str], methods: str, headers: str, expose: str,
                credentials: bool, max_age: int, dropped: list[str]) -> Made:
    """Origin `*`: the fixed headers ingress-nginx adds to every response."""
    added = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", methods),
             ("Access-Control-Allow-Headers", headers),
             ("Access-Control-Max-Age", str(max_age))]
    if credentials:
        added.append(("Access-Control-Allow-Credentials", "true"))
    if expose:
        added.append(("Access-Control-Expose-Headers", expose))
    how = "response headers on every response of the routes (HTTPRoute ResponseHeaderModifier)"
    notes = [Note(name, CONVERTED, how) for name in present]
    notes[0] = Note(present[0], DIFFERS, f"{how}; a preflight (OPTIONS) request reaches the "
                    "backend, where ingress-nginx answers it with 204 itself")
    if dropped:
        notes = [Note(n.annotation, n.outcome, f"{n.message}; {_dropped(dropped)}")
                 if n.annotation == "cors-allow-origin" else n for n in notes]
    return Made((response_headers(added),), tuple(notes))


def _origin_note(base: Note, dropped: list[str], wildcard: list[str]) -> Note:
    message, outcome = base.message, base.outcome
    if dropped:
        message += f"; {_dropped(dropped)}"
    if wildcard:
        outcome = DIFFERS
        message += (f"; in {', '.join(wildcard)} the * matches any number of DNS labels, "
                    "where ingress-nginx matches exactly one")
    return Note(base.annotation, outcome, message)


def _dropped(dropped: list[str]) -> str:
    return (f"{', '.join(dropped)} dropped, as ingress-nginx drops them: an origin is "
            "scheme://host[:port]")


def _max_age(value: str) -> int:
    return int(value) if value.strip().isdigit() else DEFAULT_MAX_AGE_S


CONVERTERS = family(ANNOTATIONS, made)
