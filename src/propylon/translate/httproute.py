"""HTTPRoutes: attaching them to listeners, their parent status, and their rules as IR routes.

`translate_rules(route, backends)` turns every (rule, match) pair into an `ir.Route` once per
route (filters, timeouts, retries, weighted backends; a rule whose backends all fail, or that
has none, answers 500), and reports what went wrong with references (ResolvedRefs) or values
this implementation does not support (Accepted False, UnsupportedValue). Those routes are
finished here: `Translated.served_on(listener)` is them as a listener serves them, a redirect
taking the listener's scheme and port (what `gatewayir` puts in each virtual host).

A rule with a regular expression Envoy would refuse (`regexes.problem`: RE2 syntax and program
size; in a match, or the one a CORS allowed origin becomes) is dropped, as the spec allows:
Envoy would refuse the whole virtual host, and with it every other route on those hostnames.
The route's other rules are served, with PartiallyInvalid True (UnsupportedValue, "Dropped
Rule(s): " and each rule's field path, RE2's error and the fix); a route whose rules are all
dropped is Accepted False, UnsupportedValue.

Filters (decoded by `api.httproute`) become route fields in `filters`: on a backendRef, header
modifiers are carried per backend; any other filter on the only backendRef of a rule is the
rule's own (every request of the rule goes there), and on a rule that splits traffic it is
refused (UnsupportedValue), never silently ignored. An ExtensionRef filter naming an Envoy
Gateway HTTPRouteFilter is asked of `Backends.extension` (`routefilters`): its direct
response answers for the rule; a missing one is ResolvedRefs False and the rule answers 500;
one using a field not implemented is UnsupportedValue. A value Envoy would refuse
(`envoy_limits`) is UnsupportedValue too. `sessionPersistence` is each route's session
(`sessions`; on a GRPCRoute it is not implemented: UnsupportedValue, never silently ignored).
`retry.attempts` unset means one retry.

`attach(route, ...)` then walks the route's parentRefs with `parents.attach_parents`
(GRPCRoutes attach the same way, with their own kind checked against the listeners'
supportedKinds). For each Gateway of ours (its own listeners) or ListenerSet of ours (that set's
listeners, with allowedRoutes "Same" meaning the set's namespace) it narrows the listeners by
sectionName and port (NoMatchingParent), by allowedRoutes namespaces and kinds
(NotAllowedByListeners) and by hostname intersection (NoMatchingListenerHostname); the route attaches to every listener left, and one status entry
per parentRef is written with our controllerName.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from propylon.api.formats import duration_ms
from propylon.api.gateway import Listener
from propylon.api.grpcroute import GRPCRoute, GRPCRule
from propylon.api.httproute import BackendRef, CORSFilter, ExtensionRefFilter, HTTPRoute, Rule
from propylon.api.meta import ObjectMeta
from propylon.api.routefilter import GROUP as FILTER_GROUP
from propylon.api.routefilter import KIND as FILTER_KIND
from propylon.ir.model import (
    Cluster,
    DirectResponse,
    HeaderModifier,
    PathMatch,
    Retry,
    RouteMatch,
    RouteSource,
    StringMatch,
    WeightedBackend,
)
from propylon.translate import envoy_limits, regexes, routefilters, sessions
from propylon.translate.backends import Backends, Refused
from propylon.translate.filters import Resolve, RuleFields, apply_filter, weighted_backends
from propylon.translate.gateways import GatewayState
from propylon.translate.listenersets import SetState
from propylon.translate.parents import Attached, Attaching, attach_parents
from propylon.translate.precedence import Ranked
from propylon.translate.types import Now

KIND = "HTTPRoute"
DEFAULT_RETRY_ATTEMPTS = 1  # `retry.attempts` unset: implementation-specific, Envoy's default


@dataclass
class Translated:
    """A route's rules as IR, and what the route's conditions must say about them."""

    routes: list[Ranked] = field(default_factory=list)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # rules left out, each with why

    def served_on(self, listener: Listener) -> list[Ranked]:
        """The routes as `listener` serves them: a redirect learns the listener's scheme and
        port (its Location defaults to them)."""
        scheme: Literal["http", "https"] = "https" if listener.protocol == "HTTPS" else "http"
        return [r if r.route.redirect is None else replace(r, route=replace(
            r.route, redirect=replace(r.route.redirect, listener_scheme=scheme,
                                      listener_port=listener.port)))
                for r in self.routes]


@dataclass(frozen=True)
class Attachment:
    """A route attached to one listener, serving these hostnames."""

    translated: Translated
    hostnames: tuple[str, ...]


EG_ANNOTATION_PREFIX = "gateway.envoyproxy.io/"


def route_source(kind: str, meta: ObjectMeta) -> RouteSource:
    """The route entries' source: the route object, with its Envoy Gateway annotations."""
    return RouteSource(kind, meta.namespace, meta.name, tuple(
        (k.removeprefix(EG_ANNOTATION_PREFIX), v) for k, v in meta.annotations
        if k.startswith(EG_ANNOTATION_PREFIX)))


def translate_rules(route: HTTPRoute, backends: Backends) -> Translated:
    out = Translated()
    ns, name = route.meta.namespace, route.meta.name
    source = route_source(KIND, route.meta)
    resolve = resolver(out, backends, KIND, ns)

    def extension(f: ExtensionRefFilter) -> routefilters.Found | None:
        found = backends.extension(KIND, ns, f.group, f.kind, f.name)
        if isinstance(found, Refused):
            out.refused.append(found)
            return None
        out.unsupported.extend(found.problems)
        return found

    for i, rule in enumerate(route.rules):
        matches = [RouteMatch(
            PathMatch(m.path_type, m.path_value),  # type: ignore[arg-type]
            tuple(StringMatch(n, v, t) for t, n, v in m.headers),  # type: ignore[arg-type]
            tuple(StringMatch(n, v, t) for t, n, v in m.query_params),  # type: ignore[arg-type]
            m.method) for m in rule.matches]
        if drop_invalid_rule(out, i, rule.name,
                             match_regexes(i, matches) + _cors_regexes(i, rule)):
            continue
        out.unsupported.extend(unsupported_fields(i, rule))
        session = rule.session_persistence
        weighted, fields = weighted_backends(rule.backend_refs, resolve,
                                             _rule_fields(rule, resolve, extension,
                                                          out.unsupported),
                                             out.unsupported)
        if session is not None:
            shared, problem = sessions.shared_cluster(f"httproute/{ns}/{name}/rule/{i}", i,
                                                      weighted, out.clusters)
            out.unsupported.extend([problem] if problem else [])
            if shared is not None:
                out.clusters[shared.name] = shared
                weighted = (WeightedBackend(shared.name, 1),)
        # a redirect answers; otherwise the backends, or 500 when none can be reached
        served = any(w.cluster is not None and w.weight > 0 for w in weighted)
        for j, match in enumerate(matches):
            name_ = f"httproute/{ns}/{name}/rule/{i}/match/{j}"
            ir = (fields.route(name_, match) if fields.redirect is not None
                  else fields.route(name_, match, direct_response=fields.direct_response)
                  if fields.direct_response is not None
                  else fields.route(name_, match, weighted) if served
                  else fields.route(name_, match, direct_response=DirectResponse(500)))
            if session is not None and ir.redirect is None:
                ir = replace(ir, session=sessions.of(session, ns, name, i, match.path))
            ir = replace(ir, source=source)
            out.routes.append(Ranked(ir, route.meta.creation_timestamp, ns, name, i, j))
    return out


def resolver(out: Translated, backends: Backends, kind: str, namespace: str,
             protocol: Literal["h2c"] | None = None) -> Resolve:
    """The cluster name of a backendRef of a route of `kind` in `namespace`, its cluster kept in
    `out.clusters`; None for a reference refused, the refusal kept in `out.refused`."""
    def resolve(ref: BackendRef) -> str | None:
        result = backends.resolve(kind, namespace, ref.group, ref.kind, ref.name, ref.namespace,
                                  ref.port, protocol)
        if isinstance(result, Refused):
            out.refused.append(result)
            return None
        out.clusters[result.cluster.name] = result.cluster
        return result.cluster.name

    return resolve


def unsupported_fields(index: int, rule: Rule | GRPCRule) -> list[str]:
    """Fields of rule `index` this implementation does not serve: never silently ignored."""
    if isinstance(rule, Rule) and rule.session_persistence is not None:
        return sessions.problems(index, rule.session_persistence)
    if rule.session_persistence:
        return [f"spec.rules[{index}].sessionPersistence is not supported by this "
                "implementation: remove it"]
    return []


def drop_invalid_rule(out: Translated, index: int, rule_name: str | None,
                      found: list[tuple[str, str]]) -> bool:
    """Leave out rule `index` if Envoy would refuse one of its regular expressions, `found` as
    (field path, regex) (the whole virtual host would go with it): note in `out.dropped` the
    field, RE2's verdict and the fix."""
    problems = [f"{where}: {p}" for where, regex in found
                if (p := regexes.problem(regex)) is not None]
    if problems:
        label = f"rule {index}" + (f' ("{rule_name}")' if rule_name else "")
        out.dropped.append(f"{label}: " + "; ".join(problems))
    return bool(problems)


def match_regexes(index: int, matches: list[RouteMatch],
                  path_field: str = "path.value") -> list[tuple[str, str]]:
    """(field path, regex) of each regular expression of rule `index`'s matches; `path_field`
    names the field a path regex comes from (a GRPCRoute's is `method`)."""
    found = []
    for j, match in enumerate(matches):
        at = f"spec.rules[{index}].matches[{j}]"
        if match.path.type == "RegularExpression":
            found.append((f"{at}.{path_field}", match.path.value))
        for kind, strings in (("headers", match.headers), ("queryParams", match.query_params)):
            found += [(f"{at}.{kind}[{k}].value", s.value) for k, s in enumerate(strings)
                      if s.type == "RegularExpression"]
    return found


def _cors_regexes(index: int, rule: Rule) -> list[tuple[str, str]]:
    """(field path, regex) of each CORS allowed origin of rule `index`, its backendRefs' too."""
    at = f"spec.rules[{index}]"
    filters = [(f"{at}.filters[{k}]", f) for k, f in enumerate(rule.filters)]
    filters += [(f"{at}.backendRefs[{b}].filters[{k}]", f)
                for b, ref in enumerate(rule.backend_refs) for k, f in enumerate(ref.filters)]
    return [(f"{where}.cors.allowOrigins[{n}]", regexes.origin_regex(str(origin)))
            for where, f in filters if isinstance(f, CORSFilter)
            for n, origin in enumerate(f.allow_origins)]


def _rule_fields(rule: Rule, resolve: Resolve,
                 extension: Callable[[ExtensionRefFilter], routefilters.Found | None],
                 unsupported: list[str]) -> RuleFields:
    """The rule's filters, timeouts and retry. An HTTPRouteFilter that cannot be resolved
    makes the rule answer 500."""
    fields = RuleFields()
    for f in rule.filters:
        if isinstance(f, ExtensionRefFilter) and (f.group, f.kind) == (FILTER_GROUP,
                                                                      FILTER_KIND):
            fields = _route_filter(extension(f), fields, unsupported)
            continue
        fields = apply_filter(f, fields, resolve, unsupported)
    request = duration_ms(rule.request_timeout or "")
    backend = duration_ms(rule.backend_timeout or "")
    retry = None
    if rule.retry is not None:
        unsupported.extend(envoy_limits.retry_attempts(rule.retry.attempts or 0))
        retry = Retry(rule.retry.attempts or DEFAULT_RETRY_ATTEMPTS,
                      tuple(sorted(set(rule.retry.codes))),
                      None if rule.retry.backoff is None else duration_ms(rule.retry.backoff))
    if not (request or backend or retry):
        return fields
    return replace(fields, timeout_ms=request or None, backend_timeout_ms=backend or None,
                   retry=retry)


def _route_filter(found: routefilters.Found | None, fields: RuleFields,
                  unsupported: list[str]) -> RuleFields:
    """`fields` with what an HTTPRouteFilter does: its direct response and response headers
    (after the rule's own), or its URL rewrite (the rule must have none of its own); 500 when
    it could not be resolved."""
    if found is None:
        return replace(fields, direct_response=DirectResponse(500))
    if found.rewrite is not None:
        if fields.rewrite is not None or fields.redirect is not None:
            unsupported.append("an HTTPRouteFilter's urlRewrite and the rule's own URLRewrite "
                               "or RequestRedirect filter conflict: keep one")
            return fields
        return replace(fields, rewrite=found.rewrite)
    if found.direct_response is None:
        return fields
    headers = fields.response_headers or HeaderModifier()
    extra = found.response_headers or HeaderModifier()
    merged = HeaderModifier(headers.set + extra.set, headers.add + extra.add,
                            headers.remove + extra.remove)
    return replace(fields, direct_response=found.direct_response,
                   response_headers=None if merged == HeaderModifier() else merged)


def attach(obj: dict[str, Any], route: HTTPRoute | GRPCRoute, translated: Translated,
           gateways: Mapping[tuple[str, str], GatewayState],
           namespace_labels: Mapping[str, dict[str, str]], controller: str,
           now: Now | None, listener_sets: Mapping[tuple[str, str], SetState] | None = None,
           kind: str = KIND) -> Attached:
    """Attach `route` (of `kind`) to listeners of our Gateways and ListenerSets
    (`listenersets.SetState` by namespace and name): our status entries and the attachments."""
    not_served = translated.unsupported or (translated.dropped and not translated.routes)
    how = Attaching(kind, lambda hosts: Attachment(translated, hosts), translated.refused,
                    "; ".join(translated.unsupported + translated.dropped) if not_served else "",
                    "Dropped Rule(s): " + "; ".join(translated.dropped)
                    if translated.dropped else "")
    return attach_parents(obj, route, how, gateways, namespace_labels, controller, now,
                          listener_sets)
