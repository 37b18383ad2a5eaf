"""GRPCRoutes: their rules as IR routes; attachment and parent status are HTTPRoute's.

A gRPC call is an HTTP/2 POST to `/<service>/<method>`, so a method match becomes a path match:
- `Exact` with service and method: the exact path `/<service>/<method>`;
- `Exact` with only a service: the path prefix `/<service>` (element-wise, so `/<service>/...`);
- `Exact` with only a method: the regular expression `/[^/]+/<method>`;
- `RegularExpression`: `/<service>/<method>`, a missing part being `[^/]+`;
- no method match: every path.
Header matches are HTTPRoute's, and so is the dropping of a rule whose regular expressions
(the path one a method match becomes, named by its `method` field, and header ones) Envoy would
refuse. Precedence (`precedence.Ranked.grpc`): most characters of the
service, then of the method, then most header matches. Filters: RequestHeaderModifier,
ResponseHeaderModifier and RequestMirror on rules, header modifiers on backendRefs (and a
mirror on a rule's only backendRef); anything else makes the route not Accepted
(UnsupportedValue). Backends are weighted like HTTPRoute's and always reached over HTTP/2
(`h2c`, or HTTP/2 over TLS under a BackendTLSPolicy). A rule whose backends all fail, or that
has none, answers HTTP 500 (gRPC clients see it as UNKNOWN). A call no route matches gets
Envoy's 404, which gRPC clients read as UNIMPLEMENTED.
"""

from __future__ import annotations

import re
from dataclasses import replace

from propylon.api.grpcroute import GRPCRoute, MethodMatch
from propylon.ir.model import DirectResponse, PathMatch, RouteMatch, StringMatch
from propylon.translate.backends import Backends
from propylon.translate.filters import RuleFields, apply_filter, weighted_backends
from propylon.translate.httproute import (
    Translated,
    drop_invalid_rule,
    match_regexes,
    resolver,
    route_source,
    unsupported_fields,
)
from propylon.translate.precedence import Ranked

KIND = "GRPCRoute"
RULE_FILTERS = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror")
_ANY_PART = "[^/]+"


def path_match(method: MethodMatch | None) -> PathMatch:
    """The HTTP/2 path match of a gRPC method match."""
    if method is None or not (method.service or method.method):
        return PathMatch("PathPrefix", "/")
    if method.type == "RegularExpression":
        return PathMatch("RegularExpression",
                         f"/{method.service or _ANY_PART}/{method.method or _ANY_PART}")
    if method.service and method.method:
        return PathMatch("Exact", f"/{method.service}/{method.method}")
    if method.service:
        return PathMatch("PathPrefix", f"/{method.service}")
    return PathMatch("RegularExpression", f"/{_ANY_PART}/{re.escape(str(method.method))}")


def _characters(method: MethodMatch | None) -> tuple[int, int]:
    if method is None:
        return (0, 0)
    return (len(method.service or ""), len(method.method or ""))


def translate_rules(route: GRPCRoute, backends: Backends) -> Translated:
    out = Translated()
    ns, name = route.meta.namespace, route.meta.name
    resolve = resolver(out, backends, KIND, ns, protocol="h2c")
    for i, rule in enumerate(route.rules):
        matches = [RouteMatch(path_match(m.method),
                              tuple(StringMatch(n, v, t)  # type: ignore[arg-type]
                                    for t, n, v in m.headers)) for m in rule.matches]
        if drop_invalid_rule(out, i, rule.name, match_regexes(i, matches, "method")):
            continue
        out.unsupported.extend(unsupported_fields(i, rule))
        fields = RuleFields()
        for f in rule.filters:
            if f.type in RULE_FILTERS:
                fields = apply_filter(f, fields, resolve, out.unsupported)
            else:
                out.unsupported.append(f'filter type "{f.type}" is not supported on a GRPCRoute: '
                                       "remove it")
        weighted, fields = weighted_backends(rule.backend_refs, resolve, fields, out.unsupported)
        served = any(w.cluster is not None and w.weight > 0 for w in weighted)
        for j, (m, match) in enumerate(zip(rule.matches, matches, strict=True)):
            name_ = f"grpcroute/{ns}/{name}/rule/{i}/match/{j}"
            ir = replace(fields.route(name_, match, weighted) if served
                         else fields.route(name_, match, direct_response=DirectResponse(500)),
                         source=route_source(KIND, route.meta))
            out.routes.append(Ranked(ir, route.meta.creation_timestamp, ns, name, i, j,
                                     _characters(m.method)))
    return out
