"""Gateway API route precedence inside one virtual host.

Across every route serving a hostname, matches are ordered by: Exact path, then
RegularExpression, then PathPrefix, longest value first within each; then a method match; then
the most header matches; then the most query-parameter matches; then the oldest route
(creationTimestamp); then namespace/name alphabetically; then rule order and match order.

GRPCRoute matches (`grpc` set: the characters of the matched service and method) are ordered
by the most characters of the service, then of the method, then the most header matches, then
the same route and rule tie-breaks. The spec forbids merging HTTPRoutes and GRPCRoutes on one
hostname, so how the two kinds interleave is only kept deterministic.
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
    grpc: tuple[int, int] | None = None  # GRPCRoute: characters of the service and the method

    def key(self) -> tuple[object, ...]:
        m = self.route.match
        head: tuple[object, ...] = (
            (_PATH_RANK[m.path.type], -len(m.path.value), m.method is None, -len(m.headers),
             -len(m.query_params)) if self.grpc is None
            else (-self.grpc[0], -self.grpc[1], False, -len(m.headers), 0))
        return (*head, self.created, self.namespace, self.name, self.rule_index,
                self.match_index)


def ordered(routes: list[Ranked]) -> tuple[Route, ...]:
    return tuple(r.route for r in sorted(routes, key=Ranked.key))
