"""A BackendTrafficPolicy's settings on the IR route entries it governs.

`governed(route, policy, parent, copies)` returns the route entry with the settings of
`policy` (merged over `parent`'s spec when the policy has a `mergeType`: a JSON merge patch of
its spec onto the parent's; StrategicMerge is applied the same way, as Envoy Gateway's
strategic merge of these fields amounts to it):
- `retry` -> the route's retry policy (attempts, Envoy retry triggers, retriable status codes,
  per-try timeout, back-off), unless the route rule sets its own (HTTPRoute `retry`);
- `timeout.http.requestTimeout` -> the route's timeout, unless the rule sets `timeouts.request`;
- `faultInjection` -> the route's injected delay and abort;
- `compressor` -> the route's response compression, algorithms in the policy's order;
- `responseOverride` -> the route's response overrides, in the policy's order;
- a Local `rateLimit` -> the route's rate limit (its own token buckets);
- `requestBuffer.limit` -> the route's request body limit;
- `loadBalancer` -> the route's hash policies (`propylon.translate.policies.loadbalancer`);
- `timeout.tcp.connectTimeout`, `timeout.http.connectionIdleTimeout` and
  `maxConnectionDuration`, `circuitBreaker` and `healthCheck` (`limits`; a gRPC health check
  makes the copy speak h2c), and the `loadBalancer` algorithm -> the clusters of the route's
  backends, as copies named `<cluster>/<policy namespace>/<policy name>` (listed in `copies`
  with the cluster fields they change) so other routes using the same Service keep theirs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

from propylon.api.envoygateway import BackendTraffic, Policy, TimeoutSettings, backend_traffic
from propylon.api.mergepatch import merge_patch
from propylon.api.responseoverride import OverrideRule
from propylon.ir.model import (
    Compression,
    Connection,
    HeaderModifier,
    HeaderValue,
    Redirect,
    ResponseOverride,
    Route,
    WeightedBackend,
)
from propylon.translate.policies import limits, loadbalancer

# Fields of a cluster a policy sets on the copy of it its routes use: (field, value) pairs.
ClusterChanges = tuple[tuple[str, Any], ...]


@lru_cache(maxsize=4096)
def settings(policy: Policy, parent: Policy | None) -> BackendTraffic:
    """The implemented settings of `policy`, merged over `parent` when it has one."""
    spec = policy.spec_value() if parent is None else merge_patch(parent.spec_value(),
                                                                  json.loads(policy.spec))
    return backend_traffic(spec)[0]


def governed(route: Route, policy: Policy, parent: Policy | None,
             copies: dict[str, tuple[str, ClusterChanges]]) -> Route:
    """`route` with the settings of the governing policy (see the module docstring); the
    cluster copies it points to are added to `copies` (name -> (source, changes))."""
    found = settings(policy, parent)
    changes: dict[str, Any] = {}
    if found.retry is not None and route.retry is None:
        changes["retry"] = found.retry
    timeout = found.timeout
    if timeout is not None and timeout.request_ms is not None and route.timeout_ms is None:
        changes["timeout_ms"] = timeout.request_ms
    if found.load_balancer is not None:
        changes["hash_policies"] = loadbalancer.of(found.load_balancer)[1]
        if found.load_balancer.utilization is not None:
            changes["response_headers"] = loadbalancer.without_load_reports(
                route.response_headers, found.load_balancer)
    cluster = cluster_changes(found)
    if cluster:
        changes["backends"] = copied(route.backends, policy, cluster, copies)
    if found.fault is not None and route.fault is None:
        changes["fault"] = found.fault
    if found.rate_limit is not None and route.rate_limit is None:
        changes["rate_limit"] = found.rate_limit
    if found.request_buffer_bytes is not None and route.request_body_limit is None:
        changes["request_body_limit"] = found.request_buffer_bytes
    if found.compressors and not route.compression:
        changes["compression"] = tuple(Compression(c.type, c.min_content_length)
                                       for c in found.compressors)
    if found.overrides and not route.response_overrides:
        changes["response_overrides"] = tuple(_override(r) for r in found.overrides)
    if not changes:
        return route
    return replace(route, **changes)


def cluster_changes(found: BackendTraffic) -> ClusterChanges:
    """What `found` changes in the clusters of the routes it governs (the module docstring)."""
    out: list[tuple[str, Any]] = []
    timeout = found.timeout or TimeoutSettings()
    connection = Connection(timeout.connect_ms, timeout.idle_ms, timeout.max_connection_ms,
                            found.circuit_breaker,
                            found.health_check)
    if connection != Connection():
        out.append(("connection", connection))
        out.extend(limits.protocol_changes(connection))
    if found.load_balancer is not None:
        out.append(("load_balancer", loadbalancer.of(found.load_balancer)[0]))
    return tuple(out)


def copied(backends: tuple[WeightedBackend, ...], policy: Policy, changes: ClusterChanges,
           copies: dict[str, tuple[str, ClusterChanges]]) -> tuple[WeightedBackend, ...]:
    """`backends` pointing at the copies of their clusters with `changes`, named
    `<cluster>/<policy namespace>/<policy name>`, which are added to `copies`."""
    out = []
    for backend in backends:
        if backend.cluster is None:
            out.append(backend)
            continue
        name = f"{backend.cluster}/{policy.meta.namespace}/{policy.meta.name}"
        copies[name] = (backend.cluster, changes)
        out.append(replace(backend, cluster=name))
    return tuple(out)


def _override(rule: OverrideRule) -> ResponseOverride:
    headers = HeaderModifier(tuple(HeaderValue(n, v) for n, v in rule.set),
                             tuple(HeaderValue(n, v) for n, v in rule.add))
    redirect = rule.redirect
    return ResponseOverride(
        rule.codes, rule.headers, rule.status, rule.content_type, rule.body,
        None if headers == HeaderModifier() else headers,
        None if redirect is None else Redirect(redirect.scheme, redirect.hostname,
                                               redirect.port, redirect.path,
                                               status_code=redirect.status))
