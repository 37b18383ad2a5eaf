"""ExtensionRef filters naming an Envoy Gateway HTTPRouteFilter, as what they do to a rule.

`RouteFilters(filters, config_maps).resolve(route kind, namespace, group, kind, name)` finds
the HTTPRouteFilter in the route's namespace: missing, it is a `Refused` (the route's
ResolvedRefs False, BackendNotFound, and the rule answers 500, as the Gateway API asks of a
filter that cannot be resolved); found, a `Found` with its direct response (status, body,
content type; a ValueRef body is the only value of its ConfigMap, or its `response.body`)
and the response header edits, or its URL rewrite; or `problems` (fields not implemented, a
missing ConfigMap, a regular expression Envoy would refuse) that make the route refuse it
(Accepted False, UnsupportedValue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from propylon.api.core import ConfigMap
from propylon.api.routefilter import GROUP, KIND, RouteFilter, URLRewriteSpec
from propylon.ir.model import DirectResponse, HeaderModifier, HeaderValue, Rewrite
from propylon.translate import conditions as c
from propylon.translate import regexes

BODY_KEY = "response.body"


@dataclass(frozen=True)
class Found:
    direct_response: DirectResponse | None
    response_headers: HeaderModifier | None
    problems: tuple[str, ...] = ()
    rewrite: Rewrite | None = None


@dataclass(frozen=True)
class Refused:
    reason: str
    message: str


class RouteFilters:
    """The HTTPRouteFilters and ConfigMaps of one pass, by namespace and name."""

    def __init__(self, filters: Iterable[RouteFilter], config_maps: Iterable[ConfigMap]) -> None:
        self._filters = {(f.namespace, f.name): f for f in filters}
        self._config_maps = {(m.meta.namespace, m.meta.name): m for m in config_maps}

    def resolve(self, route_kind: str, namespace: str, group: str, kind: str,
                name: str) -> Found | Refused:
        assert (group, kind) == (GROUP, KIND)
        found = self._filters.get((namespace, name))
        if found is None:
            return Refused(c.BACKEND_NOT_FOUND, f'ExtensionRef filter: HTTPRouteFilter '
                           f'"{namespace}/{name}" not found: create it in the {route_kind}\'s '
                           'namespace or fix the name')
        problems = [f'HTTPRouteFilter "{namespace}/{name}": {p}'
                    for p in (*found.problems, *_regex_problems(found.rewrite))]
        if problems:
            return Found(None, None, tuple(problems))
        if found.rewrite is not None:
            return Found(None, None, rewrite=_rewrite(found.rewrite))
        spec = found.direct_response
        if spec is None:
            return Found(None, None)
        body = spec.inline
        if spec.config_map is not None:
            body = config_map_body(self._config_maps.get((namespace, spec.config_map)))
            if body is None:
                return Found(None, None, (
                    f'HTTPRouteFilter "{namespace}/{name}": spec.directResponse.body.valueRef: '
                    f'ConfigMap "{namespace}/{spec.config_map}" has no {BODY_KEY} key (nor a '
                    'single key): create it or fix the name',))
        headers = HeaderModifier(tuple(HeaderValue(n, v) for n, v in spec.set),
                                 tuple(HeaderValue(n, v) for n, v in spec.add), spec.remove)
        return Found(DirectResponse(spec.status, "", spec.content_type, body or None),
                     None if headers == HeaderModifier() else headers)



def _regex_problems(spec: URLRewriteSpec | None) -> list[str]:
    if spec is None:
        return []
    found = [("spec.urlRewrite.path.replaceRegexMatch.pattern", spec.path_regex),
             ("spec.urlRewrite.hostname.pathRegex.pattern", spec.host_path_regex)]
    return [f"{where}: {problem}" for where, regex in found if regex is not None
            and (problem := regexes.problem(regex[0])) is not None]


def _rewrite(spec: URLRewriteSpec) -> Rewrite:
    return Rewrite(path_regex=spec.path_regex, host_header=spec.host_header,
                   auto_host=True if spec.host_type == "Backend" else None,
                   host_path_regex=spec.host_path_regex,
                   append_forwarded_host=spec.append_forwarded_host)


def config_map_body(config_map: ConfigMap | None) -> str | None:
    """The body a ConfigMap holds for Envoy Gateway: its `response.body`, or its only value."""
    if config_map is None:
        return None
    value = config_map.value(BODY_KEY)
    if value is None and len(config_map.data) == 1:
        value = config_map.data[0][1]
    return value
