"""Label and field selectors, parsed from the query string and matched against objects.

Label selectors support `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) and
`!k` (does not exist), comma-separated and all required. Field selectors support
`metadata.name` and `metadata.namespace` with `=`, `==` and `!=`, and for Secrets also `type`
(as a cluster does: `fieldSelector=type=kubernetes.io/tls`). A selector that does not parse
is a 400 naming the offending term.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from propylon.apiserver.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")
FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS = {"Secret": ("type",)}  # top-level fields selectable on one kind


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Matcher:
    if m := _SET_TERM.match(term):
        if m.group(1):
            raise bad_request(f'unable to parse requirement: "{term}": "!" cannot be combined '
                              "with in/notin")
        key, op = m.group(2), m.group(3)
        values = {v.strip() for v in m.group(4).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ_TERM.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_TERM.match(term):
        negate, key = m.groups()
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f'unable to parse requirement: "{term}": use k=v, k!=v, "k in (a,b)", '
                      '"k notin (a,b)", k or !k')


def label_selector(selector: str | None) -> Matcher:
    """A predicate on objects for a `labelSelector` query value (None or empty: everything)."""
    terms = [_label_term(t) for t in _split_terms(selector or "")]

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(t(labels) for t in terms)
    return match


def _field_term(term: str, kind: str) -> Matcher:
    m = _EQ_TERM.match(term)
    if m is None:
        raise bad_request(f'invalid field selector "{term}": use field=value or field!=value')
    path, op, value = m.groups()
    supported = FIELDS + KIND_FIELDS.get(kind, ())
    if path not in supported:
        raise bad_request(f'field label not supported: {path} (supported: {", ".join(supported)})')

    def get(obj: dict[str, Any]) -> str:
        if "." not in path:
            return str(obj.get(path) or "")
        return str(obj.get("metadata", {}).get(path.split(".", 1)[1]) or "")
    if op == "!=":
        return lambda obj: get(obj) != value
    return lambda obj: get(obj) == value


def field_selector(selector: str | None, kind: str = "") -> Matcher:
    """A predicate on objects of `kind` for a `fieldSelector` query value (None or empty:
    everything)."""
    terms = [_field_term(t, kind) for t in _split_terms(selector or "")]
    return lambda obj: all(t(obj) for t in terms)


def selectors(query: dict[str, str], kind: str = "") -> Matcher:
    """Both selectors of a request's query (for objects of `kind`) combined."""
    labels = label_selector(query.get("labelSelector"))
    fields = field_selector(query.get("fieldSelector"), kind)
    return lambda obj: labels(obj) and fields(obj)
