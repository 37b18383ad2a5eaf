"""Typed, frozen model of GRPCRoute (gateway.networking.k8s.io/v1).

A GRPCRoute routes gRPC calls by method (`service`/`method`, each optional, matched `Exact` or
by `RegularExpression`) and by headers. Parent references, backend references and filters have
HTTPRoute's shapes, so they reuse its types. `GRPCRoute.decode(obj)` fills the CRD defaults
first (method match type Exact, header match type Exact, backend kind Service and weight 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.httproute import (
    BackendRef,
    HTTPFilter,
    ParentRef,
    decode_backend_ref,
    decode_filter,
    decode_parent_refs,
    string_matches,
)
from propylon.api.meta import ObjectMeta
from propylon.api.validation import with_defaults


@dataclass(frozen=True)
class MethodMatch:
    type: str = "Exact"  # Exact | RegularExpression
    service: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class GRPCMatch:
    method: MethodMatch | None = None
    headers: tuple[tuple[str, str, str], ...] = ()  # type, name, value


@dataclass(frozen=True)
class GRPCRule:
    matches: tuple[GRPCMatch, ...]
    filters: tuple[HTTPFilter, ...]
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None
    session_persistence: bool = False  # set, which this implementation does not support


@dataclass(frozen=True)
class GRPCRoute:
    meta: ObjectMeta
    parent_refs: tuple[ParentRef, ...]
    hostnames: tuple[str, ...]
    rules: tuple[GRPCRule, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> GRPCRoute:
        spec = with_defaults(obj).get("spec") or {}
        return cls(
            ObjectMeta.of(obj),
            decode_parent_refs(spec),
            tuple(str(h) for h in spec.get("hostnames") or ()),
            tuple(_rule(r) for r in spec.get("rules") or () if isinstance(r, dict)),
        )


def _method(raw: Any) -> MethodMatch | None:
    if not isinstance(raw, dict):
        return None
    return MethodMatch(str(raw.get("type") or "Exact"), raw.get("service"), raw.get("method"))


def _rule(raw: dict[str, Any]) -> GRPCRule:
    return GRPCRule(
        matches=tuple(GRPCMatch(_method(m.get("method")), string_matches(m.get("headers")))
                      for m in raw.get("matches") or () if isinstance(m, dict)) or (GRPCMatch(),),
        filters=tuple(decode_filter(f) for f in raw.get("filters") or ()),
        backend_refs=tuple(decode_backend_ref(b) for b in raw.get("backendRefs") or ()
                           if isinstance(b, dict)),
        name=raw.get("name"),
        session_persistence=raw.get("sessionPersistence") is not None,
    )
