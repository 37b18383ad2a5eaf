"""Envoy Gateway's HTTPRouteFilter (gateway.envoyproxy.io/v1alpha1), decoded: the filter an
HTTPRoute rule names with an ExtensionRef filter.

`RouteFilter.decode(obj)` reads `spec.directResponse`: `statusCode` (default 200),
`contentType`, `body` (`Inline` text, or `ValueRef` to a ConfigMap in the filter's
namespace, whose one key holds it; both are Envoy substitution formats, so
`%REQ(:METHOD)%` is the request's method) and `header` (`add`, `set`, `remove`: edits of the
response); and `spec.urlRewrite`: `path` (ReplaceRegexMatch: pattern, substitution),
`hostname` (`Header`: a request header's value; `Backend`: the backend's address;
`PathRegex`: the path rewritten by a regex), `appendXForwardedHost`. `problems` lists, naming
the field and the fix, what Propylon does not implement (`credentialInjection`, ...) or
cannot use; a filter with problems is refused by the route that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KIND = "HTTPRouteFilter"
GROUP = "gateway.envoyproxy.io"
_SUPPORTED = {"directResponse", "urlRewrite"}
HOST_TYPES = ("Header", "Backend", "PathRegex")


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
    rewrite: URLRewriteSpec | None = None

    @classmethod
    def decode(cls, obj: Mapping[str, Any]) -> RouteFilter:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        problems = [f"spec.{key} is not implemented by Propylon yet: remove it from the "
                    "HTTPRouteFilter" for key in spec if key not in _SUPPORTED]
        direct = rewrite = None
        raw = spec.get("directResponse")
        if isinstance(raw, Mapping):
            direct = _direct_response(raw, problems)
        raw = spec.get("urlRewrite")
        if isinstance(raw, Mapping):
            rewrite = _url_rewrite(raw, problems)
        if direct is None and rewrite is None and not problems:
            problems.append("spec: directResponse or urlRewrite is required: set one")
        if direct is not None and rewrite is not None:
            problems.append("spec: directResponse and urlRewrite exclude each other: keep one")
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""), direct,
                   tuple(problems), rewrite)


@dataclass(frozen=True)
class URLRewriteSpec:
    path_regex: tuple[str, str] | None = None
    host_type: str | None = None  # one of HOST_TYPES
    host_header: str | None = None
    host_path_regex: tuple[str, str] | None = None
    append_forwarded_host: bool | None = None


def _url_rewrite(raw: Mapping[str, Any], problems: list[str]) -> URLRewriteSpec:
    at = "spec.urlRewrite"

    def regex(value: Any, where: str) -> tuple[str, str] | None:
        if not isinstance(value, Mapping) or not value.get("pattern"):
            problems.append(f"{where}: a pattern and a substitution are required: set them")
            return None
        return (str(value["pattern"]), str(value.get("substitution") or ""))

    path = raw.get("path") if isinstance(raw.get("path"), Mapping) else {}
    assert isinstance(path, Mapping)
    path_regex = None
    if path:
        if path.get("type") != "ReplaceRegexMatch":
            problems.append(f"{at}.path.type: {path.get('type')!r} is not a path rewrite: use "
                            "ReplaceRegexMatch")
        else:
            path_regex = regex(path.get("replaceRegexMatch"), f"{at}.path.replaceRegexMatch")
    host = raw.get("hostname") if isinstance(raw.get("hostname"), Mapping) else {}
    assert isinstance(host, Mapping)
    kind = host.get("type")
    header = host_regex = None
    if host and kind not in HOST_TYPES:
        problems.append(f"{at}.hostname.type: {kind!r} is not a hostname rewrite: use one of "
                        f"{', '.join(HOST_TYPES)}")
        kind = None
    if kind == "Header":
        header = str(host.get("header") or "")
        if not header:
            problems.append(f"{at}.hostname.header: a header name is required: set it")
    if kind == "PathRegex":
        host_regex = regex(host.get("pathRegex"), f"{at}.hostname.pathRegex")
    append = raw.get("appendXForwardedHost")
    return URLRewriteSpec(path_regex, kind, header or None, host_regex,
                          None if append is None else bool(append))


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
