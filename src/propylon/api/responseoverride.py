"""A BackendTrafficPolicy's `responseOverride`, decoded: rules, in order, each replacing a
matching answer of the route's backends (or of the proxy) with another.

A rule matches by `statusCodes` (`Value`, or an inclusive `Range`; any of them) and
`responseHeaders` (name and an Exact, Prefix, Suffix or RegularExpression value; all of them).
It answers with `response` (`statusCode`, else the original's; `contentType`; an `Inline`
body, an Envoy substitution format such as `%RESPONSE_CODE%`; header `add`/`set`) or with
`redirect` (scheme, hostname, port, a full path, status 301 or 302: Envoy follows it inside
the gateway). A `ValueRef` body names a ConfigMap of the policy's namespace: the policies
stage puts its value in the spec as an `Inline` body before it is read here (its
`response.body` key, or its only key). Not implemented yet, and reported: `source`, header `remove`, a
`ReplacePrefixMatch` path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MATCH_TYPES = ("Exact", "Prefix", "Suffix", "RegularExpression")


@dataclass(frozen=True)
class OverrideRedirect:
    scheme: str | None
    hostname: str | None
    port: int | None
    path: str | None
    status: int


@dataclass(frozen=True)
class OverrideRule:
    codes: tuple[tuple[int, int], ...]  # inclusive ranges; a value is (v, v)
    headers: tuple[tuple[str, str, str], ...]  # (name, match type, value)
    status: int | None = None
    content_type: str | None = None
    body: str | None = None
    add: tuple[tuple[str, str], ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    redirect: OverrideRedirect | None = None


def response_overrides(spec: Mapping[str, Any], errors: list[str]) -> tuple[OverrideRule, ...]:
    """The rules of `spec.responseOverride`, appending to `errors` what cannot be used."""
    out = []
    for i, raw in enumerate(spec.get("responseOverride") or ()):
        if isinstance(raw, Mapping):
            rule = _rule(raw, f"spec.responseOverride[{i}]", errors)
            if rule is not None:
                out.append(rule)
    return tuple(out)


def _rule(raw: Mapping[str, Any], at: str, errors: list[str]) -> OverrideRule | None:
    before = len(errors)
    if raw.get("source") not in (None, "All"):
        errors.append(f"{at}.source: {raw['source']!r} is not implemented by Propylon yet: "
                      "remove it (every answer is matched)")
    match = _mapping(raw, "match")
    codes = []
    for j, code in enumerate(match.get("statusCodes") or ()):
        value = code.get("value") if isinstance(code, Mapping) else None
        span = _mapping(code, "range")
        if span:
            start, end = span.get("start"), span.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and 100 <= start <= end <= 599):
                errors.append(f"{at}.match.statusCodes[{j}].range: start and end must be "
                              "status codes, start <= end: fix them")
                continue
            codes.append((start, end))
        elif isinstance(value, int) and 100 <= value <= 599:
            codes.append((value, value))
        else:
            errors.append(f"{at}.match.statusCodes[{j}].value: {value!r} is not a status code: "
                          "use 100-599")
    headers = []
    for j, header in enumerate(match.get("responseHeaders") or ()):
        name, value = header.get("name"), _mapping(header, "value")
        kind = value.get("type") or "Exact"
        if not name or kind not in MATCH_TYPES or not isinstance(value.get("value"), str):
            errors.append(f"{at}.match.responseHeaders[{j}]: a name, a type ("
                          f"{', '.join(MATCH_TYPES)}) and a value are required: set them")
            continue
        headers.append((str(name).lower(), str(kind), str(value["value"])))
    if not codes and not headers:
        errors.append(f"{at}.match: statusCodes or responseHeaders are required: set one")
    response, redirect = _mapping(raw, "response"), _mapping(raw, "redirect")
    body = _mapping(response, "body")
    ref = _mapping(body, "valueRef")
    if body.get("type") == "ValueRef" and (ref.get("kind") != "ConfigMap"
                                           or ref.get("group") not in ("", None)):
        errors.append(f"{at}.response.body.valueRef: only a ConfigMap (group \"\") can hold "
                      "the body: name one")
    elif body.get("type", "Inline") not in ("Inline", "ValueRef"):
        errors.append(f"{at}.response.body.type: {body.get('type')!r} is not a body type: use "
                      "Inline or ValueRef")
    header = _mapping(response, "header")
    if header.get("remove"):
        errors.append(f"{at}.response.header.remove is not implemented by Propylon yet: "
                      "remove it")
    path = _mapping(redirect, "path")
    if path and path.get("type") != "ReplaceFullPath":
        errors.append(f"{at}.redirect.path: only ReplaceFullPath is implemented by Propylon "
                      "yet: use it")
    if len(errors) > before:
        return None
    status = response.get("statusCode")

    def pairs(key: str) -> tuple[tuple[str, str], ...]:
        return tuple((str(h.get("name") or ""), str(h.get("value") or ""))
                     for h in header.get(key) or () if isinstance(h, Mapping))

    return OverrideRule(
        tuple(codes), tuple(headers), status if isinstance(status, int) else None,
        str(response["contentType"]) if response.get("contentType") else None,
        str(body["inline"]) if body.get("inline") else None, pairs("add"), pairs("set"),
        OverrideRedirect(redirect.get("scheme"), redirect.get("hostname"), redirect.get("port"),
                         path.get("replaceFullPath"), int(redirect.get("statusCode") or 302))
        if redirect else None)


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    found = value.get(key) if isinstance(value, Mapping) else None
    return found if isinstance(found, Mapping) else {}
