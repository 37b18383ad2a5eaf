"""Typed, frozen model of TLSRoute (gateway.networking.k8s.io/v1).

A TLSRoute selects TLS connections by SNI (`hostnames`) and forwards them, as a TCP stream, to
weighted backendRefs. Parent references and backend references have the same shape as
HTTPRoute's, so they reuse its types (`ParentRef`, `BackendRef` without filters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.httproute import BackendRef, ParentRef, decode_parent_refs
from propylon.api.meta import ObjectMeta


@dataclass(frozen=True)
class TLSRouteRule:
    backend_refs: tuple[BackendRef, ...]
    name: str | None = None


@dataclass(frozen=True)
class TLSRoute:
    meta: ObjectMeta
    parent_refs: tuple[ParentRef, ...]
    hostnames: tuple[str, ...]
    rules: tuple[TLSRouteRule, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> TLSRoute:
        spec = obj.get("spec") or {}
        return cls(
            ObjectMeta.of(obj),
            decode_parent_refs(spec),
            tuple(str(h) for h in spec.get("hostnames") or ()),
            decode_rules(spec),
        )


def decode_rules(spec: dict[str, Any]) -> tuple[TLSRouteRule, ...]:
    """The rules of a TLSRoute's, TCPRoute's or UDPRoute's spec: named lists of backendRefs."""
    return tuple(TLSRouteRule(tuple(_backend(b) for b in r.get("backendRefs") or ()
                                    if isinstance(b, dict)), r.get("name"))
                 for r in spec.get("rules") or () if isinstance(r, dict))


def _backend(raw: dict[str, Any]) -> BackendRef:
    weight = raw.get("weight")
    return BackendRef(str(raw.get("name", "")), raw.get("namespace"), str(raw.get("group") or ""),
                      str(raw.get("kind") or "Service"), raw.get("port"),
                      1 if weight is None else int(weight))
