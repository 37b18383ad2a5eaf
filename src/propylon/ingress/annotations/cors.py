"""`enable-cors` and `cors-*`: ingress-nginx's CORS, as a SecurityPolicy `cors`, as the
HTTPRoute rules' CORS filter (wildcard origins) or as response headers.

ingress-nginx (annotations `enable-cors`, `cors-allow-origin`, `-allow-methods`,
`-allow-headers`, `-expose-headers`, `-allow-credentials`, `-max-age`; none has an effect
without `enable-cors: "true"`) works in two ways:
- allowed origin `*` (the default, also when the list is blank or contains `*`): every
  response carries `Access-Control-Allow-Origin: *` and the other CORS headers, whatever the
  request's Origin, even when it has none. That is a fixed set of response headers, converted
  as such (the route's ResponseHeaderModifier). What differs: a preflight (OPTIONS) is passed to
  the backend, where ingress-nginx answers it with 204 itself.
- a list of origins: an allowed request Origin is echoed back, other origins get no CORS
  header. That is Envoy's CORS filter: a SecurityPolicy `cors`. What differs:
  Access-Control-Allow-Methods, -Headers and -Max-Age are sent on preflight answers only
  (browsers read them there only).
- a list with a wildcard origin (`https://*.example.com`): ingress-nginx's `*` stands for
  exactly one DNS label, the Gateway API's for any number. The CORS then is the HTTPRoute
  rules' `CORS` filter, and `one_label_rules` puts before each such rule a twin without it,
  matching the same requests whose Origin is the wildcard with anything but one label in
  place of `*` (a header match, so the twin wins by Gateway API precedence): those requests
  get no CORS header and their preflights reach the backend, as ingress-nginx treats an
  origin it does not allow. Listed origins the twin would catch get a rule of their own
  before it, with the CORS filter. When the filter cannot carry the settings (an origin of
  another scheme than http(s), a method outside the Gateway API's list, a gRPC backend), the
  SecurityPolicy is used and the wider wildcard reported.
Items of the origin list that are not origins (no scheme, say) are dropped, as ingress-nginx
drops them; blank items are ignored. Defaults are ingress-nginx's.
"""

from __future__ import annotations

import re
from typing import Any

from propylon.api.schema import FieldError
from propylon.api.validation import CORS
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
from propylon.ingress.effects import Context, Filter
from propylon.ingress.model import Json
from propylon.translate.regexes import origin_regex

ANNOTATIONS = ("enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers",
               "cors-expose-headers", "cors-allow-credentials", "cors-max-age")
DEFAULT_METHODS = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
DEFAULT_HEADERS = ("DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
                   "Cache-Control,Content-Type,Range,Authorization")
DEFAULT_MAX_AGE_S = 1728000
# what the Gateway API's `*` matches beyond ingress-nginx's one label `[A-Za-z0-9-]+`
_NOT_ONE_LABEL = "(?:.*[^A-Za-z0-9-].*)?"
_ONE_LABEL_NOTE = ("* stands for one DNS label, as in ingress-nginx: each rule is preceded by "
                   "one without CORS for the origins where it would stand for several")
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
    wildcard = [o for o in origins if "*" in o]
    as_filter = _filter_spec(spec, max_age) if wildcard and not _grpc(ctx) else None
    how = "HTTPRoute CORS filter" if as_filter else "SecurityPolicy cors"
    notes = [Note(name, CONVERTED, how) for name in present]
    notes = [_origin_note(n, dropped, [] if as_filter else wildcard)
             if n.annotation == "cors-allow-origin" else n for n in notes]
    if as_filter:
        notes = [Note(n.annotation, n.outcome, f"{n.message}; {_ONE_LABEL_NOTE}")
                 if n.annotation == "cors-allow-origin" else n for n in notes]
    notes = [Note(n.annotation, DIFFERS, f"{how}: sent on preflight (OPTIONS) "
                  "answers only, where ingress-nginx adds it to every response of an allowed "
                  "origin (browsers read it on preflights only)")
             if n.annotation in ("cors-allow-methods", "cors-allow-headers", "cors-max-age")
             else n for n in notes]
    if as_filter:
        return Made((Filter({"type": "CORS", "cors": as_filter}),), tuple(notes))
    return policy("SecurityPolicy", {"cors": spec}, notes)


def _grpc(ctx: Context) -> bool:
    return ctx.annotation("backend-protocol").strip().upper() in ("GRPC", "GRPCS")


def _filter_spec(spec: Json, max_age: int) -> Json | None:
    """The HTTPRoute CORS filter of a SecurityPolicy `cors` spec, if the filter can carry it."""
    out = dict(spec, maxAge=max_age)
    errors: list[FieldError] = []
    CORS.check(out, "cors", errors)
    return None if errors else out


def one_label_rules(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """`rule`, and when its CORS filter has wildcard origins, before it: a rule with the filter
    for its listed origins the next one would catch, and the twin without the filter for the
    origins whose `*` is not one DNS label (ingress-nginx does not allow them)."""
    cors = next((f for f in rule.get("filters", ()) if f.get("type") == "CORS"), None)
    origins = cors["cors"]["allowOrigins"] if cors else []
    wildcard = [o for o in origins if "*" in o]
    if not wildcard:
        return [rule]
    others = "|".join(f"(?:{origin_regex(o, _NOT_ONE_LABEL)})" for o in wildcard)
    listed = [o for o in origins if "*" not in o and re.fullmatch(others, o)]
    rest = [f for f in rule["filters"] if f is not cors]
    twin = {k: v for k, v in rule.items() if k != "filters"} | ({"filters": rest} if rest else {})
    out = [_with_origin(twin, others)]
    if listed:
        out.insert(0, _with_origin(rule, "|".join(f"(?:{origin_regex(o)})" for o in listed)))
    return [*out, rule]


def _with_origin(rule: dict[str, Any], regex: str) -> dict[str, Any]:
    origin = {"name": "Origin", "type": "RegularExpression", "value": regex}
    return {**rule, "matches": [{**m, "headers": [*m.get("headers", ()), origin]}
                                for m in rule["matches"]]}


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
