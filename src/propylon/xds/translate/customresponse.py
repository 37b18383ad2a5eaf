"""IR response overrides -> Envoy's custom response filter.

A connection manager whose table has a route overriding responses carries one
`envoy.filters.http.custom_response` filter (registered in `httpfilters`), disabled by
default; such a route enables it with its own `CustomResponse` in `typed_per_filter_config`. Its matcher lists the route's overrides in
order, the first match winning: status codes as exact values of the response code (a range
is each of its codes, any of them), response headers by name (all of them). A replaced
answer is a `LocalResponsePolicy` (status, a body format with its Content-Type, headers
added or set); a redirect is a `RedirectPolicy`, which Envoy follows inside the gateway.
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.custom_response.v3.custom_response_pb2 import CustomResponse
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)
from envoy.extensions.http.custom_response.local_response_policy.v3.local_response_policy_pb2 import (  # noqa: E501
    LocalResponsePolicy,
)
from envoy.extensions.http.custom_response.redirect_policy.v3.redirect_policy_pb2 import (
    RedirectPolicy,
)
from envoy.type.matcher.v3.http_inputs_pb2 import HttpResponseHeaderMatchInput
from envoy.type.matcher.v3.status_code_input_pb2 import HttpResponseStatusCodeMatchInput
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message
from xds.core.v3.extension_pb2 import TypedExtensionConfig  # type: ignore[import-untyped]
from xds.type.matcher.v3 import matcher_pb2 as m  # type: ignore[import-untyped]
from xds.type.matcher.v3.regex_pb2 import RegexMatcher  # type: ignore[import-untyped]
from xds.type.matcher.v3.string_pb2 import StringMatcher  # type: ignore[import-untyped]

from propylon.ir import model as ir
from propylon.xds.translate.headers import header_options
from propylon.xds.translate.messages import pack

CUSTOM_RESPONSE_FILTER = "envoy.filters.http.custom_response"
Predicate = m.Matcher.MatcherList.Predicate


def uses(route: ir.Route) -> tuple[ir.ResponseOverride, ...] | None:
    return route.response_overrides or None


def chain(_used: frozenset[tuple[ir.ResponseOverride, ...]]) -> list[HttpFilter]:
    return [HttpFilter(name=CUSTOM_RESPONSE_FILTER, typed_config=pack(CustomResponse()),
                       disabled=True)]


def per_route(overrides: tuple[ir.ResponseOverride, ...]) -> dict[str, Any]:
    """A route's overrides, in order, as the filter's per-route config."""
    matchers = [m.Matcher.MatcherList.FieldMatcher(
        predicate=_predicate(o), on_match=m.Matcher.OnMatch(action=TypedExtensionConfig(
            name=f"override-{i}", typed_config=_action(o))))
        for i, o in enumerate(overrides)]
    config = CustomResponse(custom_response_matcher=m.Matcher(
        matcher_list=m.Matcher.MatcherList(matchers=matchers)))
    return {CUSTOM_RESPONSE_FILTER: pack(config)}


def _predicate(override: ir.ResponseOverride) -> Message:
    codes = [_single(TypedExtensionConfig(name="status-code",
                                          typed_config=pack(HttpResponseStatusCodeMatchInput())),
                     StringMatcher(exact=str(code)))
             for start, end in override.codes for code in range(start, end + 1)]
    headers = [_single(TypedExtensionConfig(name=f"header-{name}", typed_config=pack(
        HttpResponseHeaderMatchInput(header_name=name))), _string(kind, value))
        for name, kind, value in override.headers]
    parts = ([codes[0]] if len(codes) == 1 else
             [Predicate(or_matcher=Predicate.PredicateList(predicate=codes))] if codes else [])
    parts.extend(headers)
    if len(parts) == 1:
        return parts[0]
    return Predicate(and_matcher=Predicate.PredicateList(predicate=parts))


def _single(source: Message, value: Message) -> Message:
    return Predicate(
        single_predicate=Predicate.SinglePredicate(input=source, value_match=value))


def _string(kind: str, value: str) -> Message:
    """The xds matcher API's `StringMatcher` (not Envoy's own) for `value` matched as `kind`."""
    if kind == "RegularExpression":
        return StringMatcher(safe_regex=RegexMatcher(regex=value))
    if kind == "Prefix":
        return StringMatcher(prefix=value)
    if kind == "Suffix":
        return StringMatcher(suffix=value)
    return StringMatcher(exact=value)


def _action(override: ir.ResponseOverride) -> Any:
    redirect = override.redirect
    if redirect is not None:
        action = rc.RedirectAction()
        if redirect.scheme is not None:
            action.scheme_redirect = redirect.scheme
        if redirect.hostname is not None:
            action.host_redirect = redirect.hostname
        if redirect.port is not None:
            action.port_redirect = redirect.port
        if redirect.path_full is not None:
            action.path_redirect = redirect.path_full
        policy = RedirectPolicy(redirect_action=action)
        policy.status_code.value = redirect.status_code
        return pack(policy)
    answer = LocalResponsePolicy()
    if override.body_format:
        answer.body_format.text_format_source.inline_string = override.body_format
    if override.content_type:
        answer.response_headers_to_add.append(HeaderValueOption(
            header=HeaderValue(key="content-type", value=override.content_type),
            append_action=HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD))
    if override.status is not None:
        answer.status_code.value = override.status
    if override.response_headers is not None:
        answer.response_headers_to_add.extend(header_options(override.response_headers))
    return pack(answer)
