"""Typed, frozen model of HTTPRoute (gateway.networking.k8s.io/v1).

`HTTPRoute.decode(obj)` fills the CRD defaults first (rule matching `PathPrefix /`, backend kind
Service and weight 1, parentRef kind Gateway), so every field below is concrete. Each filter is
decoded into the value of its type (`HTTPFilter`: header modifiers, RequestRedirect, URLRewrite,
RequestMirror, CORS, ExtensionRef; a type the schema does not know is `OtherFilter`); the
translator decides which of them it serves where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from propylon.api.gateway import GROUP
from propylon.api.meta import ObjectMeta
from propylon.api.validation import FILTER_FIELDS, with_defaults


@dataclass(frozen=True)
class ParentRef:
    name: str
    namespace: str | None = None
    group: str = GROUP
    kind: str = "Gateway"
    section_name: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class Match:
    path_type: str = "PathPrefix"
    path_value: str = "/"
    headers: tuple[tuple[str, str, str], ...] = ()  # type, name, value
    query_params: tuple[tuple[str, str, str], ...] = ()
    method: str | None = None


@dataclass(frozen=True, slots=True)
class HeaderModifierFilter:
    """`requestHeaderModifier` or `responseHeaderModifier`: (name, value) pairs to set or add,
    names to remove."""

    type: str  # RequestHeaderModifier or ResponseHeaderModifier
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PathModifier:
    """A redirect's or rewrite's `path`: the full path, or the prefix replacing the matched
    one; both None for a type this model does not know."""

    replace_full_path: str | None = None
    replace_prefix_match: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRedirectFilter:
    type: ClassVar[str] = "RequestRedirect"
    scheme: str | None = None
    hostname: str | None = None
    port: int | None = None
    path: PathModifier = PathModifier()
    status_code: int = 302


@dataclass(frozen=True, slots=True)
class URLRewriteFilter:
    type: ClassVar[str] = "URLRewrite"
    hostname: str | None = None
    path: PathModifier = PathModifier()


@dataclass(frozen=True, slots=True)
class RequestMirrorFilter:
    type: ClassVar[str] = "RequestMirror"
    backend_ref: BackendRef
    percent: float = 100.0  # `percent`, or `fraction` as a percentage


@dataclass(frozen=True, slots=True)
class CORSFilter:
    type: ClassVar[str] = "CORS"
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int = 5
    allow_credentials: bool = False


@dataclass(frozen=True, slots=True)
class ExtensionRefFilter:
    type: ClassVar[str] = "ExtensionRef"
    group: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class OtherFilter:
    """A filter of a type this model does not decode (e.g. `ExternalAuth`)."""

    type: str


HTTPFilter = (HeaderModifierFilter | RequestRedirectFilter | URLRewriteFilter | RequestMirrorFilter
              | CORSFilter | ExtensionRefFilter | OtherFilter)


@dataclass(frozen=True)
class BackendRef:
    name: str
    namespace: str | None
    group: str
    kind: str
    port: int | None
    weight: int
    filters: tuple[HTTPFilter, ...] = ()  # applied only to requests sent to this backend


@dataclass(frozen=True)
class RetryPolicy:
    """`rules[].retry` (experimental channel): durations kept as the API's text."""

    attempts: int | None = None
    codes: tuple[int, ...] = ()
    backoff: str | None = None


@dataclass(frozen=True)
class SessionPersistence:
    """`rules[].sessionPersistence`: durations kept as the API's text."""

    name: str | None = None
    type: str = "Cookie"
    absolute_timeout: str | None = None
    lifetime: str = "Session"  # cookieConfig.lifetimeType


@dataclass(frozen=True)
class Rule:
    matches: tuple[Match, ...]
    filters: tuple[HTTPFilter, ...]
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None
    request_timeout: str | None = None
    backend_timeout: str | None = None
    retry: RetryPolicy | None = None
    session_persistence: SessionPersistence | None = None


@dataclass(frozen=True)
class HTTPRoute:
    meta: ObjectMeta
    parent_refs: tuple[ParentRef, ...]
    hostnames: tuple[str, ...]
    rules: tuple[Rule, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> HTTPRoute:
        spec = with_defaults(obj).get("spec") or {}
        return cls(
            ObjectMeta.of(obj),
            tuple(ParentRef(str(p.get("name", "")), p.get("namespace"), str(p.get("group", GROUP)),
                            str(p.get("kind", "Gateway")), p.get("sectionName"), p.get("port"))
                  for p in spec.get("parentRefs") or ()),
            tuple(str(h) for h in spec.get("hostnames") or ()),
            tuple(_rule(r) for r in spec.get("rules") or ()),
        )


def decode_filter(raw: dict[str, Any]) -> HTTPFilter:
    """One filter of a rule or backendRef (also GRPCRoute's), by its `type`."""
    type_ = str(raw.get("type", ""))
    body = raw.get(FILTER_FIELDS.get(type_, "")) or {}
    if type_ in ("RequestHeaderModifier", "ResponseHeaderModifier"):
        return HeaderModifierFilter(
            type_, _headers(body.get("set")), _headers(body.get("add")),
            tuple(str(r) for r in body.get("remove") or ()))
    if type_ == "RequestRedirect":
        return RequestRedirectFilter(body.get("scheme"), body.get("hostname"), body.get("port"),
                                     _path(body.get("path")), int(body.get("statusCode", 302)))
    if type_ == "URLRewrite":
        return URLRewriteFilter(body.get("hostname"), _path(body.get("path")))
    if type_ == "RequestMirror":
        ref = body.get("backendRef") or {}
        fraction = body.get("fraction")
        return RequestMirrorFilter(
            BackendRef(str(ref.get("name", "")), ref.get("namespace"), str(ref.get("group") or ""),
                       str(ref.get("kind") or "Service"), ref.get("port"), 1),
            100.0 * fraction.get("numerator", 0) / fraction.get("denominator", 100)
            if isinstance(fraction, dict) else float(body.get("percent", 100)))
    if type_ == "CORS":
        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in body.get(key) or ())

        return CORSFilter(strings("allowOrigins"), strings("allowMethods"),
                          strings("allowHeaders"), strings("exposeHeaders"),
                          int(body.get("maxAge", 5)), bool(body.get("allowCredentials", False)))
    if type_ == "ExtensionRef":
        return ExtensionRefFilter(str(body.get("group", "")), str(body.get("kind", "")),
                                  str(body.get("name", "")))
    return OtherFilter(type_)


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(h.get("name", "")), str(h.get("value", ""))) for h in raw or ())


def _path(raw: Any) -> PathModifier:
    path = raw or {}
    if path.get("type") == "ReplaceFullPath":
        return PathModifier(replace_full_path=str(path.get("replaceFullPath", "")))
    if path.get("type") == "ReplacePrefixMatch":
        return PathModifier(replace_prefix_match=str(path.get("replacePrefixMatch", "")))
    return PathModifier()


def decode_backend_ref(raw: dict[str, Any]) -> BackendRef:
    """A rule's backendRef, with its own filters (also GRPCRoute's)."""
    return BackendRef(str(raw.get("name", "")), raw.get("namespace"), str(raw.get("group") or ""),
                      str(raw.get("kind") or "Service"), raw.get("port"), int(raw.get("weight", 1)),
                      tuple(decode_filter(f) for f in raw.get("filters") or ()))


def decode_parent_refs(spec: dict[str, Any]) -> tuple[ParentRef, ...]:
    """GRPCRoute's and TLSRoute's `spec.parentRefs`: an empty group or kind is the default, and
    an entry that is not an object is skipped."""
    return tuple(ParentRef(str(p.get("name", "")), p.get("namespace"),
                           str(p.get("group") or GROUP), str(p.get("kind") or "Gateway"),
                           p.get("sectionName"), p.get("port"))
                 for p in spec.get("parentRefs") or () if isinstance(p, dict))


def string_matches(raw: list[dict[str, Any]] | None) -> tuple[tuple[str, str, str], ...]:
    return tuple((str(m.get("type") or "Exact"), str(m.get("name", "")), str(m.get("value", "")))
                 for m in raw or ())


def _rule(raw: dict[str, Any]) -> Rule:
    timeouts = raw.get("timeouts") or {}
    return Rule(
        matches=tuple(
            Match(str((m.get("path") or {}).get("type") or "PathPrefix"),
                  str((m.get("path") or {}).get("value") or "/"),
                  string_matches(m.get("headers")), string_matches(m.get("queryParams")),
                  m.get("method"))
            for m in raw.get("matches") or ()) or (Match(),),
        filters=tuple(decode_filter(f) for f in raw.get("filters") or ()),
        backend_refs=tuple(decode_backend_ref(b) for b in raw.get("backendRefs") or ()),
        name=raw.get("name"),
        request_timeout=timeouts.get("request"),
        backend_timeout=timeouts.get("backendRequest"),
        retry=_retry(raw.get("retry")),
        session_persistence=_session(raw.get("sessionPersistence")),
    )


def _session(raw: Any) -> SessionPersistence | None:
    if not isinstance(raw, dict):
        return None
    cookie = raw.get("cookieConfig")
    cookie = cookie if isinstance(cookie, dict) else {}
    return SessionPersistence(
        name=str(raw["sessionName"]) if raw.get("sessionName") else None,
        type=str(raw.get("type") or "Cookie"),
        absolute_timeout=str(raw["absoluteTimeout"]) if "absoluteTimeout" in raw else None,
        lifetime=str(cookie.get("lifetimeType") or "Session"))


def _retry(raw: Any) -> RetryPolicy | None:
    if not isinstance(raw, dict):
        return None
    attempts = raw.get("attempts")
    return RetryPolicy(int(attempts) if attempts is not None else None,
                       tuple(int(c) for c in raw.get("codes") or ()), raw.get("backoff"))
