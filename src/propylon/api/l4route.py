"""Typed, frozen model of TCPRoute and UDPRoute (gateway.networking.k8s.io/v1, also served as
v1alpha2).

Both forward a whole stream (TCP) or the datagrams of a client (UDP) to weighted backendRefs,
with no matching at all: a rule is only its backendRefs. They have TLSRoute's shape without
hostnames, so they reuse its rule type and backendRef decoding; `hostnames` is always empty
(the route serves whatever reaches its listener).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.httproute import ParentRef, decode_parent_refs
from propylon.api.meta import ObjectMeta
from propylon.api.tlsroute import TLSRouteRule, decode_rules


@dataclass(frozen=True)
class L4Route:
    """A TCPRoute or a UDPRoute (they differ only in the listeners that take them)."""

    meta: ObjectMeta
    parent_refs: tuple[ParentRef, ...]
    rules: tuple[TLSRouteRule, ...]
    hostnames: tuple[str, ...] = ()

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> L4Route:
        spec = obj.get("spec") or {}
        return cls(ObjectMeta.of(obj), decode_parent_refs(spec), decode_rules(spec))
