"""Envoy Gateway's HTTPRouteFilter (gateway.envoyproxy.io/v1alpha1), decoded: the filter an
HTTPRoute rule names with an ExtensionRef filter.

`RouteFilter.decode(obj)` reads `spec.directResponse`: `statusCode` (default 200),
`contentType`, `body` (`Inline` text, or `ValueRef` to a ConfigMap in the filter's
namespace, whose one key holds it; both are Envoy substitution formats, so
`%REQ(:METHOD)%` is the request's method) and `header` (`add`, `set`, `remove`: edits of the
response). `problems` lists, naming the field and the fix, what Propylon does not implement
(`urlRewrite`, `credentialInjection`, ...) or cannot use; a filter with problems is refused
by the route that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KIND = "HTTPRouteFilter"
GROUP = "gateway.envoyproxy.io"
_SUPPORTED = {"directResponse"}


@dataclass(frozen=True)
class DirectResponseSpec:
    status: int
    content_type: str | None
    inline: str | None  # the body, or None for a ConfigMap's (`config_map`)
    config_map: str | None
    add: tuple[tuple[str, str], ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteFilter:
    namespace: str
    name: str
    direct_response: DirectResponseSpec | None
    problems: tuple[str, ...]

    @classmethod
    def decode(cls, obj: Mapping[str, Any]) -> RouteFilter:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        problems = [f"spec.{key} is not implemented by Propylon yet: remove it from the "
                    "HTTPRouteFilter" for key in spec if key not in _SUPPORTED]
        direct = None
        raw = spec.get("directResponse")
        if isinstance(raw, Mapping):
            direct = _direct_response(raw, problems)
        elif not problems:
            problems.append("spec.directResponse is missing: set it")
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""), direct,
                   tuple(problems))


def _direct_response(raw: Mapping[str, Any], problems: list[str]) -> DirectResponseSpec:
    at = "spec.directResponse"
    status = raw.get("statusCode", 200)
    if not isinstance(status, int) or not 200 <= status <= 599:
        problems.append(f"{at}.statusCode: {status!r} is not a status Envoy sends: use 200-599")
        status = 200
    body = raw.get("body") if isinstance(raw.get("body"), Mapping) else {}
    assert isinstance(body, Mapping)
    inline = config_map = None
    if body.get("type", "Inline") == "Inline" and body:
        inline = str(body.get("inline") or "")
    elif body.get("type") == "ValueRef":
        ref = body.get("valueRef") if isinstance(body.get("valueRef"), Mapping) else {}
        assert isinstance(ref, Mapping)
        if ref.get("kind") != "ConfigMap" or ref.get("group", "") not in ("", None):
            problems.append(f"{at}.body.valueRef: only a ConfigMap (group \"\") can hold the "
                            "body: name one")
        else:
            config_map = str(ref.get("name") or "")
    elif body:
        problems.append(f"{at}.body.type: {body.get('type')!r} is not a body type: use Inline "
                        "or ValueRef")
    header = raw.get("header") if isinstance(raw.get("header"), Mapping) else {}
    assert isinstance(header, Mapping)

    def pairs(key: str) -> tuple[tuple[str, str], ...]:
        return tuple((str(h.get("name") or ""), str(h.get("value") or ""))
                     for h in header.get(key) or () if isinstance(h, Mapping))

    content_type = raw.get("contentType")
    return DirectResponseSpec(status, str(content_type) if content_type else None, inline,
                              config_map, pairs("add"), pairs("set"),
                              tuple(str(n) for n in header.get("remove") or ()))
