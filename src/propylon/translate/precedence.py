"""Gateway API route precedence inside one virtual host.

Across every route serving a hostname, matches are ordered by: Exact path, then
RegularExpression, then PathPrefix, longest value first within each; then a method match; then
the most header matches; then the most query-parameter matches; then the oldest route
(creationTimestamp); then namespace/name alphabetically; then rule order and match order.
"""

from __future__ import annotations

from dataclasses import dataclass

from propylon.ir.model import Route

_PATH_RANK = {"Exact": 0, "RegularExpression": 1, "PathPrefix": 2}


@dataclass(frozen=True)
class Ranked:
    """A translated route plus what precedence needs to know about where it came from."""

    route: Route
    created: str
    namespace: str
    name: str
    rule_index: int
    match_index: int

    def key(self) -> tuple[object, ...]:
        m = self.route.match
        return (_PATH_RANK[m.path.type], -len(m.path.value), m.method is None, -len(m.headers),
                -len(m.query_params), self.created, self.namespace, self.name, self.rule_index,
                self.match_index)


def ordered(routes: list[Ranked]) -> tuple[Route, ...]:
    return tuple(r.route for r in sorted(routes, key=Ranked.key))
