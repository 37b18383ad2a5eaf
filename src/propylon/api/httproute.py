"""Typed, frozen model of HTTPRoute (gateway.networking.k8s.io/v1).

`HTTPRoute.decode(obj)` fills the CRD defaults first (rule matching `PathPrefix /`, backend kind
Service and weight 1, parentRef kind Gateway), so every field below is concrete. Filters are kept
as their raw dicts (`HTTPFilter.body`) and interpreted by the translator, which knows which it
supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.gateway import GROUP
from propylon.api.meta import ObjectMeta
from propylon.api.validation import with_defaults


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


@dataclass(frozen=True)
class HTTPFilter:
    type: str
    body: dict[str, Any]  # the filter's own block, e.g. the `requestHeaderModifier` object


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
class Rule:
    matches: tuple[Match, ...]
    filters: tuple[HTTPFilter, ...]
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None
    request_timeout: str | None = None
    backend_timeout: str | None = None
    retry: RetryPolicy | None = None
    session_persistence: bool = False  # set, which this implementation does not support


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


_FILTER_FIELDS = {"RequestHeaderModifier": "requestHeaderModifier",
                  "ResponseHeaderModifier": "responseHeaderModifier",
                  "RequestMirror": "requestMirror", "RequestRedirect": "requestRedirect",
                  "URLRewrite": "urlRewrite", "ExtensionRef": "extensionRef", "CORS": "cors"}


def decode_filter(raw: dict[str, Any]) -> HTTPFilter:
    type_ = str(raw.get("type", ""))
    return HTTPFilter(type_, dict(raw.get(_FILTER_FIELDS.get(type_, ""), None) or {}))


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
        session_persistence=raw.get("sessionPersistence") is not None,
    )


def _retry(raw: Any) -> RetryPolicy | None:
    if not isinstance(raw, dict):
        return None
    attempts = raw.get("attempts")
    return RetryPolicy(int(attempts) if attempts is not None else None,
                       tuple(int(c) for c in raw.get("codes") or ()), raw.get("backoff"))
