"""The annotations that become policies come in families (the `cors-*` annotations, the
`auth-*` ones, ...) whose meaning is read together; this module registers each family's
annotations in the registry's shape.

A family's function reads the Ingress (`Context`) once and returns `Made`: the effects of the
whole family (Envoy Gateway policy fragments, objects, response headers) and one `Note` per
annotation of the family present, with its outcome and message. `family(names, made)` gives the
registry's converters for `names`: the converter of an annotation reports its own note, and the
first annotation of the family not refused (else the first) carries the family's effects, so
they are applied once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from propylon.ingress.effects import Context, Converted, Converter, Effect, Filter, Policy
from propylon.ingress.report import Outcome

CONVERTED, DIFFERS, REFUSED = Outcome.CONVERTED, Outcome.DIFFERS, Outcome.REFUSED


@dataclass(frozen=True)
class Note:
    annotation: str  # without the nginx.ingress.kubernetes.io/ prefix
    outcome: Outcome
    message: str


@dataclass(frozen=True)
class Made:
    effects: tuple[Effect, ...] = ()
    notes: tuple[Note, ...] = ()


def note(annotation: str, outcome: Outcome, message: str) -> Made:
    return Made(notes=(Note(annotation, outcome, message),))


def policy(kind: str, spec: Mapping[str, Any], notes: Iterable[Note] = ()) -> Made:
    """A route policy fragment of `kind`, with the family's notes."""
    return Made((Policy(kind, spec),), tuple(notes))


def response_headers(headers: Sequence[tuple[str, str]]) -> Filter:
    """The HTTPRoute filter setting `headers` on every response."""
    return Filter({"type": "ResponseHeaderModifier", "responseHeaderModifier": {
        "set": [{"name": name, "value": value} for name, value in headers]}})


_TITLES = {401: "Authorization Required", 403: "Forbidden", 429: "Too Many Requests",
           503: "Service Temporarily Unavailable"}


def nginx_page(status: int) -> dict[str, Any]:
    """A responseOverride `response`: `status` with nginx's page of it (e.g. "503 Service
    Temporarily Unavailable")."""
    title = f"{status} {_TITLES.get(status, '')}".strip()
    page = (f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
            "</body></html>\n")
    return {"statusCode": status, "contentType": "text/html",
            "body": {"type": "Inline", "inline": page}}


def answer_all(status: int) -> Policy:
    """Every request of the routes answered `status` by the gateway (a BackendTrafficPolicy
    fault that aborts them all), with nginx's page of that status: what ingress-nginx answers
    for a location it refuses."""
    return Policy("BackendTrafficPolicy", {
        "faultInjection": {"abort": {"httpStatus": status, "percentage": 100}},
        "responseOverride": [{"match": {"statusCodes": [{"type": "Value", "value": status}]},
                              "response": nginx_page(status)}]})


CLOSED = ("; every request is answered 503, so the location is never served without the "
          "authentication it asks for")


def family(names: Iterable[str], made: Callable[[Context], Made]) -> dict[str, Converter]:
    """The converters of the annotations `names`, all read by `made`."""

    def converter(name: str) -> Converter:
        def convert(ctx: Context, value: str) -> Converted:
            result = made(ctx)
            own = [n for n in result.notes if n.annotation == name]
            lead = next((n.annotation for n in result.notes if n.outcome is not REFUSED),
                        result.notes[0].annotation if result.notes else None)
            effects = result.effects if lead == name else ()
            if not own:
                return Converted(effects, CONVERTED, "")
            return Converted(effects, own[0].outcome, own[0].message)
        return convert

    return {name: converter(name) for name in names}
