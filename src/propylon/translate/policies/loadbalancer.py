"""A BackendTrafficPolicy's `loadBalancer` as IR: the cluster's balancer, the route's hashes.

`of(settings)` gives the `LoadBalancer` of the cluster copies the governed routes use and the
`HashPolicy` entries of those routes. As in Envoy Gateway, `ConsistentHash` is Envoy's Maglev
balancer (the table size from `tableSize`), fed by the route's hash policies: the client
address, each named header or query parameter, or the cookie (which Envoy sets when the request
has none); the other types are Envoy's balancers of the same name, with `slowStart`;
`endpointOverride` headers go with either.
"""

from __future__ import annotations

from typing import Literal

from propylon.api.loadbalancer import LoadBalancerSettings
from propylon.ir.model import HashPolicy, LoadBalancer

_POLICIES: dict[str, Literal["RoundRobin", "LeastRequest", "Random"]] = {
    "RoundRobin": "RoundRobin", "LeastRequest": "LeastRequest", "Random": "Random"}


def of(settings: LoadBalancerSettings) -> tuple[LoadBalancer, tuple[HashPolicy, ...]]:
    """The cluster's balancer and the route's hash policies for `settings`."""
    if settings.type == "ConsistentHash":
        return (LoadBalancer("Maglev", table_size=settings.table_size,
                             override_headers=settings.override_headers),
                tuple(HashPolicy(s.type, s.name, s.ttl_ms, s.attributes)
                      for s in settings.hash_sources))
    return LoadBalancer(_POLICIES[settings.type], slow_start_ms=settings.slow_start_ms,
                        override_headers=settings.override_headers), ()
