"""What of a BackendTrafficPolicy applies to a TCPRoute, UDPRoute or TLSRoute, as Envoy Gateway
applies it to the clusters of L4 routes: `timeout.tcp.connectTimeout`, `circuitBreaker`, `healthCheck`
and the `loadBalancer` types RoundRobin, Random and LeastRequest. The rest concerns HTTP
requests (retries, request timeouts, faults, compression, response overrides, rate limits,
request buffers, HTTP connection timeouts) or hashes requests (ConsistentHash; with
BackendUtilization, the load reports of HTTP responses).

`problems(spec, target)` names each field of a spec that does not apply, for a policy
targeting the L4 route `target` (Accepted False: the policy applies nothing there);
`applicable(settings)` keeps what applies, for a Gateway- or listener-level policy reaching an
L4 route, whose HTTP fields govern its HTTP routes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from propylon.api.envoygateway import BackendTraffic, TimeoutSettings

L4_ROUTE_KINDS = ("TCPRoute", "UDPRoute", "TLSRoute")
BALANCERS = ("RoundRobin", "Random", "LeastRequest")
_APPLIES = {"targetRef", "targetRefs", "targetSelectors", "mergeType", "timeout",
            "circuitBreaker", "healthCheck", "loadBalancer"}


def problems(spec: Mapping[str, Any], target: str) -> list[str]:
    """The fields of `spec` that do not apply to the L4 route `target` ("TCPRoute ns/name")."""
    fix = "remove it, or set it in a policy targeting HTTPRoutes or GRPCRoutes"
    out = [f"spec.{key} does not apply to {target} (it concerns HTTP requests): {fix}"
           for key in sorted(spec) if key not in _APPLIES]
    timeout = spec.get("timeout")
    if isinstance(timeout, Mapping):
        out.extend(f"spec.timeout.{key} does not apply to {target} (only timeout.tcp does): "
                   f"{fix}" for key in sorted(timeout) if key != "tcp")
    balancer = spec.get("loadBalancer")
    if isinstance(balancer, Mapping) and balancer.get("type") not in (None, *BALANCERS):
        out.append(f"spec.loadBalancer.type: {balancer.get('type')} is not applied to {target} "
                   f"by Propylon (it hashes or weighs HTTP requests): use one of "
                   f"{', '.join(BALANCERS)}")
    return out


def applicable(settings: BackendTraffic) -> BackendTraffic:
    """The part of `settings` an L4 route takes (module docstring)."""
    connect = settings.timeout.connect_ms if settings.timeout is not None else None
    balancer = settings.load_balancer
    return BackendTraffic(
        timeout=TimeoutSettings(connect_ms=connect) if connect is not None else None,
        load_balancer=balancer if balancer is not None and balancer.type in BALANCERS else None,
        circuit_breaker=settings.circuit_breaker, health_check=settings.health_check)
