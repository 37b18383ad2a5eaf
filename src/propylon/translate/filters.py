"""HTTPRoute and GRPCRoute filters as what they add to a rule's IR routes.

`apply_filter(f, fields, ...)` turns one decoded filter (`api.httproute.HTTPFilter`) into
`RuleFields`, the values a rule gives each of its `ir.Route`s besides match and action
(header modifiers, redirect, rewrite, mirrors, CORS; the rule's timeouts and retry are set by
the route kind, an HTTPRouteFilter's direct response by `httproute`). A value Envoy would refuse (`envoy_limits`) and a filter type not served
(ExtensionRef, unknown types) are noted in `unsupported`, never silently ignored.

`weighted_backends(refs, fields, ...)` gives each backendRef its share and its own filters:
header modifiers are carried per backend; any other filter on the only backendRef of a rule is
the rule's own (every request of the rule goes there), so it joins `fields`; on a rule that
splits traffic it is refused. `RuleFields.route(...)` builds an `ir.Route`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from propylon.api.httproute import (
    BackendRef,
    CORSFilter,
    HeaderModifierFilter,
    HTTPFilter,
    PathModifier,
    RequestMirrorFilter,
    RequestRedirectFilter,
    URLRewriteFilter,
)
from propylon.ir.model import (
    Cors,
    DirectResponse,
    HeaderModifier,
    HeaderValue,
    Mirror,
    Redirect,
    Retry,
    Rewrite,
    Route,
    RouteMatch,
    WeightedBackend,
)
from propylon.translate import envoy_limits

Resolve = Callable[[BackendRef], str | None]  # a backendRef's cluster name; None: refused

# filter types a rule's only backendRef may carry as if the rule did
_HOISTABLE = (RequestRedirectFilter, URLRewriteFilter, RequestMirrorFilter, CORSFilter)


@dataclass(frozen=True, slots=True)
class RuleFields:
    """What a rule gives each of its IR routes besides match and action."""

    request_headers: HeaderModifier | None = None
    response_headers: HeaderModifier | None = None
    redirect: Redirect | None = None
    rewrite: Rewrite | None = None
    mirrors: tuple[Mirror, ...] = ()
    cors: Cors | None = None
    timeout_ms: int | None = None
    backend_timeout_ms: int | None = None
    retry: Retry | None = None
    direct_response: DirectResponse | None = None  # an HTTPRouteFilter's (`routefilters`)

    def given(self) -> set[str]:
        """The names of the fields set."""
        return {f.name for f in fields(self) if getattr(self, f.name) not in (None, ())}

    def route(self, name: str, match: RouteMatch, backends: tuple[WeightedBackend, ...] = (),
              direct_response: DirectResponse | None = None) -> Route:
        return Route(name, match, backends=backends, redirect=self.redirect,
                     direct_response=direct_response, request_headers=self.request_headers,
                     response_headers=self.response_headers, rewrite=self.rewrite,
                     mirrors=self.mirrors, timeout_ms=self.timeout_ms,
                     backend_timeout_ms=self.backend_timeout_ms, retry=self.retry, cors=self.cors)


def apply_filter(f: HTTPFilter, out: RuleFields, resolve: Resolve,
                 unsupported: list[str]) -> RuleFields:
    """`out` with what filter `f` adds (a mirror whose backend is refused adds nothing)."""
    if isinstance(f, HeaderModifierFilter):
        modifier = _headers(f, unsupported)
        if f.type == "RequestHeaderModifier":
            return replace(out, request_headers=modifier)
        return replace(out, response_headers=modifier)
    if isinstance(f, RequestRedirectFilter):
        full, prefix = _path(f.path, f.type, unsupported)
        return replace(out, redirect=Redirect(f.scheme, f.hostname, f.port, full, prefix,
                                              f.status_code))
    if isinstance(f, URLRewriteFilter):
        full, prefix = _path(f.path, f.type, unsupported)
        return replace(out, rewrite=Rewrite(f.hostname, full, prefix))
    if isinstance(f, RequestMirrorFilter):
        cluster = resolve(f.backend_ref)
        if cluster is None:
            return out
        return replace(out, mirrors=(*out.mirrors, Mirror(cluster, f.percent)))
    if isinstance(f, CORSFilter):
        return replace(out, cors=Cors(f.allow_origins, f.allow_methods, f.allow_headers,
                                      f.expose_headers, f.max_age, f.allow_credentials))
    unsupported.append(f'filter type "{f.type}" is not supported: remove it')
    return out


def weighted_backends(refs: tuple[BackendRef, ...], resolve: Resolve, out: RuleFields,
                      unsupported: list[str]) -> tuple[tuple[WeightedBackend, ...], RuleFields]:
    """Each backendRef of a rule with its own filters, and the rule's fields with those its only
    backendRef's filters add."""
    weighted = []
    for ref in refs:
        backend, out = _weighted_backend(ref, resolve(ref), len(refs), out, resolve, unsupported)
        weighted.append(backend)
    return tuple(weighted), out


def _weighted_backend(ref: BackendRef, cluster: str | None, siblings: int, out: RuleFields,
                      resolve: Resolve, unsupported: list[str],
                      ) -> tuple[WeightedBackend, RuleFields]:
    request_headers = response_headers = None
    for f in ref.filters:
        if isinstance(f, HeaderModifierFilter):
            if f.type == "RequestHeaderModifier":
                request_headers = _headers(f, unsupported)
            else:
                response_headers = _headers(f, unsupported)
        elif siblings == 1 and isinstance(f, _HOISTABLE):
            hoisted = apply_filter(f, RuleFields(), resolve, unsupported)
            own, rule = hoisted.given() - {"mirrors"}, out.given()
            if own & rule or {"redirect", "rewrite"} <= own | rule:
                unsupported.append(f'backendRef "{ref.name}" has a {f.type} filter that its '
                                   "rule's filters conflict with: keep one of them")
            out = replace(out, **{name: getattr(hoisted, name) for name in own},
                          mirrors=out.mirrors + hoisted.mirrors)
        else:
            unsupported.append(f'filter type "{f.type}" is not supported on backendRef '
                               f'"{ref.name}" of a rule with {siblings} backendRefs: move it to '
                               "the rule's filters")
    return WeightedBackend(cluster, ref.weight, request_headers, response_headers), out


def _headers(f: HeaderModifierFilter, unsupported: list[str]) -> HeaderModifier:
    modifier = HeaderModifier(tuple(HeaderValue(n, v) for n, v in f.set),
                              tuple(HeaderValue(n, v) for n, v in f.add), f.remove)
    unsupported.extend(envoy_limits.header_modifier(modifier, f.type))
    return modifier


def _path(path: PathModifier, filter_type: str,
          unsupported: list[str]) -> tuple[str | None, str | None]:
    """The full path and the prefix of a redirect or rewrite, checked against Envoy's limits."""
    full, prefix = path.replace_full_path, path.replace_prefix_match
    unsupported.extend(envoy_limits.path(full if prefix is None else prefix, filter_type))
    return full, prefix
