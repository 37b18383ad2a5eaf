"""IR route configs -> Envoy `RouteConfiguration`s (RDS) and `VirtualHost`s (VHDS).

One `RouteConfiguration` per IR `RouteConfig`, holding no virtual host itself: it names VHDS
over ADS as the source of its virtual hosts, so the table never changes and each virtual host
is a resource of its own. One Envoy virtual host per IR `VirtualHost`, named
`<route table name>/<first domain>` (its VHDS resource name; Envoy matches a virtual host to its
table by the name up to the last `/`, and removes it by that name), routes kept in the IR's
precedence order. There is no implicit catch-all virtual host and no on-demand VHDS filter, so a
request whose Host matches no domain gets Envoy's own 404. Each route names the object it
comes from as Envoy Gateway's route metadata does (filter metadata `envoy-gateway`,
`resources`: kind, namespace, name, its `gateway.envoyproxy.io/` annotations), which access
logs print with `%METADATA(ROUTE:envoy-gateway:resources)%`.

Matching follows the Gateway API:
- the Host port is ignored when choosing a virtual host (`ignore_port_in_host_matching`), and
  the Host header reaches the backend unchanged;
- `PathPrefix` is element-wise (`/foo` matches `/foo` and `/foo/bar`, never `/foobar`), which is
  Envoy's `path_separated_prefix`; a trailing slash in the prefix is ignored (as the spec says
  `/foo/` and `/foo` match the same paths) and `/` is a plain prefix.
- header names are lower-cased (Envoy stores them so); the method is a `:method` header match.
- header modifier values are literal, as the Gateway API defines them: Envoy reads `%` in a
  value it adds as the start of a substitution (`%START_TIME%`, `%REQ(...)%`) and refuses a
  value with a lone `%` ("100%"), so every `%` is written `%%`.

Backends: one valid backend is a plain `cluster` route; several are `weighted_clusters`. A
backend that could not be resolved (`cluster` None) keeps its weight but points to
`INVALID_CLUSTER`, a name that is never defined, with `cluster_not_found_response_code:
INTERNAL_SERVER_ERROR`: Envoy picks a weighted cluster per request and answers 500 for exactly
that share. Header modifiers of one backend (backendRef filters) go on its weighted cluster
entry, so a rule with them is always `weighted_clusters`. When no backend can take traffic
(all invalid, or all weights zero) the route is a `direct_response` 500.
"""

from __future__ import annotations

import re
from typing import Any

from envoy.config.core.v3.base_pb2 import RuntimeFractionalPercent
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.type.matcher.v3.regex_pb2 import RegexMatchAndSubstitute, RegexMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from envoy.type.v3.percent_pb2 import FractionalPercent
from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import BoolValue, UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate import compression, httpfilters, loadbalancer
from propylon.xds.translate.clusters import ads_source, duration_ms
from propylon.xds.translate.headers import header_options

#: A cluster name that is never defined: weighted share of an unresolvable backendRef.
INVALID_CLUSTER = "propylon-invalid-backend"
SOURCE_METADATA = "envoy-gateway"  # the filter metadata naming a route's object

_REDIRECT_CODES = {
    301: rc.RedirectAction.MOVED_PERMANENTLY,
    302: rc.RedirectAction.FOUND,
    303: rc.RedirectAction.SEE_OTHER,
    307: rc.RedirectAction.TEMPORARY_REDIRECT,
    308: rc.RedirectAction.PERMANENT_REDIRECT,
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _string_matcher(match: ir.StringMatch) -> StringMatcher:
    if match.type == "RegularExpression":
        return StringMatcher(safe_regex=RegexMatcher(regex=match.value))
    return StringMatcher(exact=match.value)


def _trimmed_prefix(prefix: str) -> str:
    """The prefix without trailing slashes; "" stands for "/"."""
    return prefix.rstrip("/")


def _route_match(match: ir.RouteMatch) -> rc.RouteMatch:
    out = rc.RouteMatch()
    path = match.path
    if path.type == "Exact":
        out.path = path.value
    elif path.type == "RegularExpression":
        out.safe_regex.CopyFrom(RegexMatcher(regex=path.value))
    elif _trimmed_prefix(path.value):
        out.path_separated_prefix = _trimmed_prefix(path.value)
    else:
        out.prefix = "/"
    for header in match.headers:
        out.headers.append(rc.HeaderMatcher(name=header.name.lower(),
                                            string_match=_string_matcher(header)))
    if match.method is not None:
        out.headers.append(rc.HeaderMatcher(name=":method",
                                            string_match=StringMatcher(exact=match.method)))
    for query in match.query_params:
        out.query_parameters.append(rc.QueryParameterMatcher(
            name=query.name, string_match=_string_matcher(query)))
    return out


def _prefix_replacement(match: ir.RouteMatch, replacement: str) -> RegexMatchAndSubstitute | None:
    """Replacing a prefix with "/" must not leave "//rest": use a regex that eats the slashes.

    Returns None when Envoy's plain `prefix_rewrite` does the right thing."""
    matched = _trimmed_prefix(match.path.value) if match.path.type == "PathPrefix" else ""
    if _trimmed_prefix(replacement) or not matched:
        return None
    return RegexMatchAndSubstitute(pattern=RegexMatcher(regex=f"^{re.escape(matched)}/*"),
                                   substitution="/")


def _full_path(value: str) -> RegexMatchAndSubstitute:
    """Replace the whole path with `value`, literally: a backslash in a substitution would start
    a reference to a capture group."""
    return RegexMatchAndSubstitute(pattern=RegexMatcher(regex="^/.*$"),
                                   substitution=value.replace("\\", "\\\\"))


def _redirect(route: ir.Route, redirect: ir.Redirect) -> rc.RedirectAction:
    out = rc.RedirectAction(response_code=_REDIRECT_CODES.get(redirect.status_code,
                                                              rc.RedirectAction.FOUND))
    if redirect.scheme is not None:
        out.scheme_redirect = redirect.scheme
    if redirect.hostname is not None:
        out.host_redirect = redirect.hostname
    port = _redirect_port(redirect)
    if port is not None:
        out.port_redirect = port
    if redirect.path_full is not None:
        out.path_redirect = redirect.path_full
    elif redirect.path_prefix is not None:
        regex = _prefix_replacement(route.match, redirect.path_prefix)
        if regex is not None:
            out.regex_rewrite.CopyFrom(regex)
        else:
            out.prefix_rewrite = _rewritten_prefix(route.match, redirect.path_prefix)
    return out


def _redirect_port(redirect: ir.Redirect) -> int | None:
    """The `port_redirect` that gives the Location the spec's port, or None to leave it out.

    The port is the filter's, else the redirect scheme's well-known port, else the listener's;
    the well-known port of the Location's scheme is left out. Envoy keeps the Host header's port
    unless the host is replaced, so a Host that may carry a non-default listener port gets the
    default port written out (`https://host:443` rather than a wrong `https://host:8443`)."""
    scheme = redirect.scheme or redirect.listener_scheme
    port = (redirect.port or _DEFAULT_PORTS.get(redirect.scheme or "")
            or redirect.listener_port)
    if port is None:
        return None
    if port != _DEFAULT_PORTS.get(scheme or ""):
        return port
    listener_default = _DEFAULT_PORTS.get(redirect.listener_scheme or "")
    if redirect.hostname is None and redirect.listener_port not in (None, listener_default):
        return port
    return None


def _rewritten_prefix(match: ir.RouteMatch, replacement: str) -> str:
    """Envoy replaces exactly the matched prefix, which we trimmed: trim the replacement too."""
    if match.path.type == "PathPrefix" and _trimmed_prefix(match.path.value):
        return _trimmed_prefix(replacement) or "/"
    return replacement


def _cluster_specifier(action: rc.RouteAction, backends: tuple[ir.WeightedBackend, ...]) -> None:
    """One backend without header modifiers is a plain `cluster`; anything else is
    `weighted_clusters`, one entry per (cluster, header modifiers), weights summed."""
    weights: dict[tuple[str, ir.HeaderModifier | None, ir.HeaderModifier | None], int] = {}
    for b in backends:
        key = (b.cluster if b.cluster is not None else INVALID_CLUSTER, b.request_headers,
               b.response_headers)
        weights[key] = weights.get(key, 0) + b.weight
    if len(weights) == 1:
        name, request, response = next(iter(weights))
        if name != INVALID_CLUSTER and request is None and response is None:
            action.cluster = name
            return
    action.cluster_not_found_response_code = rc.RouteAction.INTERNAL_SERVER_ERROR
    for (name, request, response), weight in sorted(weights.items(), key=lambda kv: repr(kv[0])):
        entry = rc.WeightedCluster.ClusterWeight(name=name, weight=UInt32Value(value=weight))
        if request is not None:
            entry.request_headers_to_add.extend(header_options(request))
            entry.request_headers_to_remove.extend(request.remove)
        if response is not None:
            entry.response_headers_to_add.extend(header_options(response))
            entry.response_headers_to_remove.extend(response.remove)
        action.weighted_clusters.clusters.append(entry)


def _extended_rewrite(rewrite: ir.Rewrite, action: rc.RouteAction) -> None:
    """An HTTPRouteFilter's rewrites: path and Host by regex, Host from a header or the
    backend, X-Forwarded-Host."""
    if rewrite.path_regex is not None:
        action.regex_rewrite.CopyFrom(RegexMatchAndSubstitute(
            pattern=RegexMatcher(regex=rewrite.path_regex[0]),
            substitution=rewrite.path_regex[1]))
    if rewrite.host_header is not None:
        action.host_rewrite_header = rewrite.host_header
    if rewrite.auto_host:
        action.auto_host_rewrite.value = True
    if rewrite.host_path_regex is not None:
        action.host_rewrite_path_regex.CopyFrom(RegexMatchAndSubstitute(
            pattern=RegexMatcher(regex=rewrite.host_path_regex[0]),
            substitution=rewrite.host_path_regex[1]))
    if rewrite.append_forwarded_host:
        action.append_x_forwarded_host = True


def _route_action(route: ir.Route, backends: tuple[ir.WeightedBackend, ...]) -> rc.RouteAction:
    action = rc.RouteAction()
    _cluster_specifier(action, backends)
    rewrite = route.rewrite
    if rewrite is not None:
        if rewrite.hostname is not None:
            action.host_rewrite_literal = rewrite.hostname
        if rewrite.path_full is not None:
            action.regex_rewrite.CopyFrom(_full_path(rewrite.path_full))
        elif rewrite.path_prefix is not None:
            regex = _prefix_replacement(route.match, rewrite.path_prefix)
            if regex is not None:
                action.regex_rewrite.CopyFrom(regex)
            else:
                action.prefix_rewrite = _rewritten_prefix(route.match, rewrite.path_prefix)
        _extended_rewrite(rewrite, action)
    for mirror in route.mirrors:
        action.request_mirror_policies.append(rc.RouteAction.RequestMirrorPolicy(
            cluster=mirror.cluster,
            runtime_fraction=RuntimeFractionalPercent(default_value=FractionalPercent(
                numerator=round(mirror.percent * 10_000),
                denominator=FractionalPercent.MILLION))))
    # Gateway API: no request timeout unless the route says so (Envoy's default is 15 s).
    if route.timeout_ms is not None:
        action.timeout.CopyFrom(duration_ms(route.timeout_ms))
    elif route.backend_timeout_ms is not None and route.retry is None:
        action.timeout.CopyFrom(duration_ms(route.backend_timeout_ms))
    else:
        action.timeout.CopyFrom(Duration())
    if route.retry is not None:
        action.retry_policy.CopyFrom(_retry_policy(route.retry, route.backend_timeout_ms))
    action.hash_policy.extend(loadbalancer.hash_policies(route))
    return action


def _retry_on(retry: ir.Retry) -> str:
    triggers = list(retry.on if retry.on is not None
                    else ("connect-failure", "refused-stream", "reset"))
    if retry.codes and "retriable-status-codes" not in triggers:
        triggers.append("retriable-status-codes")
    return ",".join(triggers)


def _retry_policy(retry: ir.Retry, backend_timeout_ms: int | None) -> rc.RetryPolicy:
    policy = rc.RetryPolicy(
        retry_on=_retry_on(retry),
        num_retries=UInt32Value(value=retry.attempts),
        retriable_status_codes=list(retry.codes),
    )
    if retry.backoff_ms is not None:
        policy.retry_back_off.base_interval.CopyFrom(duration_ms(max(retry.backoff_ms, 1)))
    if retry.backoff_max_ms is not None:
        policy.retry_back_off.max_interval.CopyFrom(duration_ms(max(retry.backoff_max_ms, 1)))
    per_try_ms = retry.per_try_timeout_ms if retry.per_try_timeout_ms is not None \
        else backend_timeout_ms
    if per_try_ms is not None:
        policy.per_try_timeout.CopyFrom(duration_ms(per_try_ms))
    return policy


def _usable(backends: tuple[ir.WeightedBackend, ...]) -> tuple[ir.WeightedBackend, ...]:
    return tuple(b for b in backends if b.weight > 0)


def _direct_response(answer: ir.DirectResponse, out: rc.DirectResponseAction) -> None:
    """A body format (an HTTPRouteFilter's) is sent with its content type; without a body no
    Content-Type is sent."""
    out.status = answer.status
    if answer.body_format:
        out.body_format.text_format_source.inline_string = answer.body_format
        if answer.content_type:
            out.body_format.content_type = answer.content_type
    elif answer.body:
        out.body.inline_string = answer.body


def route(route: ir.Route) -> rc.Route:
    """One Envoy route for one IR route."""
    out = rc.Route(name=route.name, match=_route_match(route.match))
    backends = _usable(route.backends)
    if route.redirect is not None:
        out.redirect.CopyFrom(_redirect(route, route.redirect))
    elif route.direct_response is not None:
        _direct_response(route.direct_response, out.direct_response)
    elif all(b.cluster is None for b in backends):
        out.direct_response.status = 500
    else:
        out.route.CopyFrom(_route_action(route, backends))
    if route.request_headers is not None:
        out.request_headers_to_add.extend(header_options(route.request_headers))
        out.request_headers_to_remove.extend(route.request_headers.remove)
    if route.response_headers is not None:
        out.response_headers_to_add.extend(header_options(route.response_headers))
        out.response_headers_to_remove.extend(route.response_headers.remove)
    for name, config in httpfilters.per_route(route).items():
        out.typed_per_filter_config[name].CopyFrom(config)
    if route.compression and "accept-encoding" not in out.request_headers_to_remove:
        out.request_headers_to_remove.append(compression.ACCEPT_ENCODING)
    if route.source is not None:
        out.metadata.filter_metadata[SOURCE_METADATA].update({"resources": [_source(route.source)]})
    return out


def _source(source: ir.RouteSource) -> dict[str, Any]:
    """Envoy Gateway's description of a route's object in its route metadata."""
    out: dict[str, Any] = {"kind": source.kind, "namespace": source.namespace,
                           "name": source.name}
    if source.annotations:
        out["annotations"] = dict(source.annotations)
    return out


def vhost_name(config: str, vh: ir.VirtualHost) -> str:
    """The VHDS resource name of `vh` in the route table named `config`."""
    return f"{config}/{vh.domains[0]}"


def virtual_host(config: str, vh: ir.VirtualHost) -> rc.VirtualHost:
    """One Envoy virtual host of the route table `config`, its routes in the IR's order."""
    return rc.VirtualHost(name=vhost_name(config, vh), domains=list(vh.domains),
                          routes=[route(r) for r in vh.routes])


def route_configuration(name: str) -> RouteConfiguration:
    """The Envoy route table `name`, whose virtual hosts come over VHDS."""
    out = RouteConfiguration(name=name, validate_clusters=BoolValue(value=False),
                             ignore_port_in_host_matching=True)
    out.vhds.config_source.CopyFrom(ads_source())
    return out


def vhost_clusters(vh: rc.VirtualHost) -> frozenset[str]:
    """Every cluster one Envoy virtual host sends traffic to."""
    names: set[str] = set()
    for r in vh.routes:
        if not r.HasField("route"):
            continue
        action = r.route
        if action.cluster:
            names.add(action.cluster)
        names.update(w.name for w in action.weighted_clusters.clusters)
        names.update(m.cluster for m in action.request_mirror_policies)
    names.discard(INVALID_CLUSTER)
    return frozenset(names)
