"""A BackendTrafficPolicy's `loadBalancer` as IR: the cluster's balancer, the route's hashes.

`of(settings)` gives the `LoadBalancer` of the cluster copies the governed routes use and the
`HashPolicy` entries of those routes. As in Envoy Gateway, `ConsistentHash` is Envoy's Maglev
balancer (the table size from `tableSize`), fed by the route's hash policies: the client
address, each named header or query parameter, or the cookie (which Envoy sets when the request
has none); `BackendUtilization` is Envoy's client-side weighted round robin; the other types
are Envoy's balancers of the same name, with `slowStart`;
`endpointOverride` headers go with either. The ORCA headers are taken off the responses
(`without_load_reports`) unless `keepResponseHeaders`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from propylon.api.loadbalancer import LoadBalancerSettings
from propylon.ir.model import HashPolicy, HeaderModifier, LoadBalancer, Utilization

LOAD_REPORT_HEADERS = ("endpoint-load-metrics", "endpoint-load-metrics-bin")  # ORCA, in-band
_POLICIES: dict[str, Literal["RoundRobin", "LeastRequest", "Random"]] = {
    "RoundRobin": "RoundRobin", "LeastRequest": "LeastRequest", "Random": "Random"}


def of(settings: LoadBalancerSettings) -> tuple[LoadBalancer, tuple[HashPolicy, ...]]:
    """The cluster's balancer and the route's hash policies for `settings`."""
    if settings.type == "ConsistentHash":
        return (LoadBalancer("Maglev", table_size=settings.table_size,
                             override_headers=settings.override_headers),
                tuple(HashPolicy(s.type, s.name, s.ttl_ms, s.attributes)
                      for s in settings.hash_sources))
    used = settings.utilization
    if used is not None:
        return LoadBalancer("Utilization", slow_start_ms=settings.slow_start_ms,
                            override_headers=settings.override_headers,
                            utilization=Utilization(
                                used.blackout_ms, used.weight_expiration_ms,
                                used.weight_update_ms, used.error_penalty_percent,
                                used.metric_names, used.out_of_band, used.oob_period_ms,
                                used.oob_port)), ()
    return LoadBalancer(_POLICIES[settings.type], slow_start_ms=settings.slow_start_ms,
                        override_headers=settings.override_headers), ()


def without_load_reports(headers: HeaderModifier | None,
                         settings: LoadBalancerSettings) -> HeaderModifier | None:
    """A route's response header changes, removing the ORCA load report headers when the
    balancer reads them and `keepResponseHeaders` is not set."""
    if settings.utilization is None or settings.utilization.keep_response_headers:
        return headers
    headers = headers or HeaderModifier()
    return replace(headers, remove=(*headers.remove, *LOAD_REPORT_HEADERS))
