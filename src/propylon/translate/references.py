"""Cross-namespace references and the ReferenceGrants that allow them.

A reference from an object of (group, kind) in namespace A to an object of (group, kind, name)
in namespace B is allowed when A == B, or when a ReferenceGrant in B lists `from` (group, kind,
A) and `to` (group, kind, and either no name or that name). This is a security boundary: nothing
else opens it.
"""

from __future__ import annotations

from collections.abc import Iterable

from propylon.api.gateway import ReferenceGrant


class Grants:
    def __init__(self, grants: Iterable[ReferenceGrant]) -> None:
        self._grants = tuple(grants)

    def allows(self, from_group: str, from_kind: str, from_namespace: str,
               to_group: str, to_kind: str, to_namespace: str, to_name: str) -> bool:
        if from_namespace == to_namespace:
            return True
        for grant in self._grants:
            if grant.meta.namespace != to_namespace:
                continue
            if not any(f.group == from_group and f.kind == from_kind and f.namespace == from_namespace
                       for f in grant.from_):
                continue
            if any(t.group == to_group and t.kind == to_kind and t.name in (None, to_name)
                   for t in grant.to):
                return True
        return False
