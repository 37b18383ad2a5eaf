"""IR local rate limits -> Envoy's local rate limit filter, as Envoy Gateway configures it.

The filter is registered in `httpfilters`, so a connection manager has it only when a route of
its table has a rate limit, in Envoy Gateway's place, with no limit of its own
(`filter_config`): each such route carries its whole configuration (`policy`) in
`typed_per_filter_config`, so other routes pass through. A route's
configuration: the default token bucket (requests no rule matches), one descriptor per rule
with the rate-limit actions that produce it (one set of actions per method of the rule:
methods are alternatives sharing the rule's bucket), and x-ratelimit-* headers (draft 03)
unless turned off. A rule's conditions become actions as Envoy Gateway
builds them: exact and regex matches on headers, the path and the method are
`header_value_match` (`expect_match` false when inverted) with the descriptor
`rule-<i>-match-<j>` (or `-path`, `-method`), query parameters `query_parameter_value_match`,
Distinct ones `request_headers` / `query_parameters` with a key and no value (a bucket per
value, up to `MAX_DYNAMIC_DESCRIPTORS`), a source CIDR `masked_remote_address` (plus
`remote_address` when Distinct). Requests matching a rule use only the rule's bucket. In
shadow mode requests are counted but never refused (`filter_enforced` 0%).
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import RuntimeFractionalPercent
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2 as rl
from envoy.extensions.filters.http.local_ratelimit.v3.local_rate_limit_pb2 import LocalRateLimit
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from envoy.type.v3.percent_pb2 import FractionalPercent
from envoy.type.v3.token_bucket_pb2 import TokenBucket
from google.protobuf.any_pb2 import Any
from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import BoolValue, UInt32Value

from propylon.ir import limits as ir
from propylon.xds.translate.messages import pack

LOCAL_RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit"
STAT_PREFIX = "http_local_rate_limiter"
MAX_DYNAMIC_DESCRIPTORS = 10_000


def filter_config() -> Any:
    """The filter-level config: no limit of its own, every limit is per route."""
    return pack(LocalRateLimit(
        stat_prefix=STAT_PREFIX,
        max_dynamic_descriptors=UInt32Value(value=MAX_DYNAMIC_DESCRIPTORS)))


def _bucket(bucket: ir.TokenBucket) -> TokenBucket:
    return TokenBucket(max_tokens=bucket.requests,
                       tokens_per_fill=UInt32Value(value=bucket.requests),
                       fill_interval=Duration(seconds=bucket.fill_s))


def _percent(value: int) -> RuntimeFractionalPercent:
    return RuntimeFractionalPercent(default_value=FractionalPercent(
        numerator=value, denominator=FractionalPercent.HUNDRED))


def _matcher(match: ir.RateLimitMatch) -> StringMatcher:
    if match.type == "RegularExpression":
        return StringMatcher(safe_regex={"regex": match.value})
    if match.type == "PathPrefix":
        return StringMatcher(prefix=match.value)
    return StringMatcher(exact=match.value)


def _condition(match: ir.RateLimitMatch, key: str,
               ) -> tuple[rc.RateLimit.Action, rl.RateLimitDescriptor.Entry]:
    """The action producing the descriptor entry `key` for one condition, and the entry."""
    A = rc.RateLimit.Action
    if match.type == "Distinct":
        if match.source == "query":
            action = A(query_parameters=A.QueryParameters(query_parameter_name=match.name,
                                                          descriptor_key=key))
        else:
            action = A(request_headers=A.RequestHeaders(header_name=match.name,
                                                        descriptor_key=key))
        return action, rl.RateLimitDescriptor.Entry(key=key)
    expect = BoolValue(value=not match.invert)
    if match.source == "query":
        action = A(query_parameter_value_match=A.QueryParameterValueMatch(
            descriptor_key=key, descriptor_value=key, expect_match=expect,
            query_parameters=[rc.QueryParameterMatcher(name=match.name,
                                                       string_match=_matcher(match))]))
    else:
        action = A(header_value_match=A.HeaderValueMatch(
            descriptor_key=key, descriptor_value=key, expect_match=expect,
            headers=[rc.HeaderMatcher(name=match.name, string_match=_matcher(match))]))
    return action, rl.RateLimitDescriptor.Entry(key=key, value=key)


def _rule(index: int, rule: ir.RateLimitRule, method: ir.RateLimitMatch | None,
          ) -> tuple[rc.RateLimit, rl.LocalRateLimitDescriptor]:
    conditions = []
    for j, match in enumerate(m for m in rule.matches if m.source in ("header", "query")):
        conditions.append(_condition(match, f"rule-{index}-match-{j}"))
    if method is not None:
        conditions.append(_condition(method, f"rule-{index}-method"))
    conditions.extend(_condition(match, f"rule-{index}-path")
                      for match in rule.matches if match.source == "path")
    A = rc.RateLimit.Action
    if rule.source_cidr is not None:
        address, _, length = rule.source_cidr.partition("/")
        masked = A.MaskedRemoteAddress()
        if ":" in address:
            masked.v6_prefix_mask_len.value = int(length)
        else:
            masked.v4_prefix_mask_len.value = int(length)
        conditions.append((A(masked_remote_address=masked),
                           rl.RateLimitDescriptor.Entry(key="masked_remote_address",
                                                        value=rule.source_cidr)))
        if rule.cidr_distinct:
            conditions.append((A(remote_address=A.RemoteAddress()),
                               rl.RateLimitDescriptor.Entry(key="remote_address")))
    return (rc.RateLimit(actions=[action for action, _ in conditions]),
            rl.LocalRateLimitDescriptor(entries=[entry for _, entry in conditions],
                                        token_bucket=_bucket(rule.bucket)))


def policy(limit: ir.LocalRateLimit) -> Any:
    """A route's whole local rate limit configuration."""
    out = LocalRateLimit(
        stat_prefix=STAT_PREFIX,
        token_bucket=_bucket(limit.default),
        filter_enabled=_percent(100),
        filter_enforced=_percent(0 if limit.shadow else 100),
        enable_x_ratelimit_headers=rl.DRAFT_VERSION_03 if limit.headers else rl.OFF,
        always_consume_default_token_bucket=BoolValue(value=False))
    for index, rule in enumerate(limit.rules):
        for method in rule.methods or (None,):
            rate_limit, descriptor = _rule(index, rule, method)
            out.rate_limits.append(rate_limit)
        out.descriptors.append(descriptor)  # the same for every method of the rule
    return pack(out)
