"""A BackendTrafficPolicy's `loadBalancer`, decoded.

`load_balancer(raw)` reads `spec.loadBalancer` into `LoadBalancerSettings`: the algorithm
(`RoundRobin`, `LeastRequest`, `Random`; `ConsistentHash`, which Envoy Gateway serves with
Envoy's Maglev balancer, `tableSize` default 65537, a prime; `BackendUtilization`, Envoy's
client-side weighted round robin over the endpoints' ORCA load reports, in-band or, with
`outOfBand`, streamed by each endpoint's OpenRcaService every `reportingPeriod` from `port`
(default: the endpoint's own port)), what a consistent hash hashes (`SourceIP`, one `Header`, several `Headers`,
a `Cookie` with its `ttl` and `attributes`, or `QueryParams`), `slowStart.window` and
`endpointOverride` (the request headers that may name the endpoint, `address:port`, to send a
request to; the type is the fallback). It returns the settings and messages naming each
invalid value and its fix; the rules are the CRD's own CEL rules (consistentHash and
backendUtilization only with their type, the hash source field that its type names, slowStart
only for RoundRobin, LeastRequest and BackendUtilization), so an object that did not go
through the CRD is judged the same way. DynamicModule is refused by `SUPPORTED` in
`propylon.api.envoygateway`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Duration = Callable[[str, Any], 'int | None']


TYPES = ("RoundRobin", "LeastRequest", "Random", "ConsistentHash", "BackendUtilization")
HASH_TYPES = {"SourceIP": None, "Header": "header", "Headers": "headers", "Cookie": "cookie",
              "QueryParams": "queryParams"}
DEFAULT_TABLE_SIZE = 65537
MAX_TABLE_SIZE = 5000011  # Envoy's limit on a Maglev table


@dataclass(frozen=True)
class HashSource:
    """One thing a consistent hash hashes: the client address, a header, a cookie (set by
    the proxy, with `ttl_ms` and `attributes`, when the request has none) or a query
    parameter."""

    type: Literal["SourceIP", "Header", "Cookie", "QueryParam"]
    name: str = ""
    ttl_ms: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UtilizationSettings:
    """`backendUtilization`: weights from the endpoints' ORCA load reports (durations in ms,
    None: Envoy's defaults)."""

    blackout_ms: int | None = None
    weight_expiration_ms: int | None = None
    weight_update_ms: int | None = None
    error_penalty_percent: int | None = None
    metric_names: tuple[str, ...] = ()
    keep_response_headers: bool = False
    out_of_band: bool = False
    oob_period_ms: int | None = None
    oob_port: int | None = None


@dataclass(frozen=True)
class LoadBalancerSettings:
    type: str
    hash_sources: tuple[HashSource, ...] = ()
    table_size: int | None = None
    slow_start_ms: int | None = None
    override_headers: tuple[str, ...] = ()  # endpointOverride.extractFrom[].header
    utilization: UtilizationSettings | None = None


def load_balancer(raw: Mapping[str, Any], duration: Duration,
                  ) -> tuple[LoadBalancerSettings | None, list[str]]:
    """`spec.loadBalancer` decoded, and what is wrong with it. `duration(path, value)` reads
    a Gateway API duration in ms, noting a bad one."""
    errors: list[str] = []
    kind = raw.get("type")
    if kind not in TYPES:
        errors.append(f"spec.loadBalancer.type: {kind!r} is not a load balancer type "
                      f"Propylon implements: use one of {', '.join(TYPES)}")
        return None, errors
    hashed = raw.get("consistentHash")
    if (kind == "ConsistentHash") != isinstance(hashed, Mapping):
        errors.append("spec.loadBalancer.consistentHash: set it exactly when type is "
                      "ConsistentHash")
        return None, errors
    used = raw.get("backendUtilization")
    if (kind == "BackendUtilization") != isinstance(used, Mapping):
        errors.append("spec.loadBalancer.backendUtilization: set it exactly when type is "
                      "BackendUtilization")
        return None, errors
    slow = raw.get("slowStart")
    slow_ms = None
    if isinstance(slow, Mapping):
        if kind not in ("RoundRobin", "LeastRequest", "BackendUtilization"):
            errors.append("spec.loadBalancer.slowStart: only RoundRobin, LeastRequest and "
                          "BackendUtilization balancers start slowly: remove it or change "
                          "the type")
        slow_ms = duration("spec.loadBalancer.slowStart.window", slow.get("window"))
    if "zoneAware" in raw:
        errors.append("spec.loadBalancer.zoneAware is not implemented by Propylon: it needs the "
                      "zones of the endpoints' nodes, which standalone mode does not have: "
                      "remove it")
    overrides = _overrides(raw.get("endpointOverride"), errors)
    if not isinstance(hashed, Mapping):
        return LoadBalancerSettings(
            str(kind), slow_start_ms=slow_ms, override_headers=overrides,
            utilization=_utilization(used, duration, errors)
            if isinstance(used, Mapping) else None), errors
    sources, table = _hash(hashed, duration, errors)
    return LoadBalancerSettings(str(kind), sources, table, override_headers=overrides), errors


def _utilization(raw: Mapping[str, Any], duration: Duration,
                 errors: list[str]) -> UtilizationSettings:
    path = "spec.loadBalancer.backendUtilization"
    penalty = raw.get("errorUtilizationPenaltyPercent")
    if penalty is not None and (not isinstance(penalty, int) or penalty < 0):
        errors.append(f"{path}.errorUtilizationPenaltyPercent: {penalty!r} is not a "
                      "percentage: use 0 or more")
        penalty = None
    oob = raw.get("outOfBand")
    oob = oob if isinstance(oob, Mapping) else None
    port = (oob or {}).get("port")
    if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
        errors.append(f"{path}.outOfBand.port: {port!r} is not a port: use 1 to 65535, or "
                      "leave it out to use the endpoint's own port")
        port = None
    return UtilizationSettings(
        duration(f"{path}.blackoutPeriod", raw.get("blackoutPeriod")),
        duration(f"{path}.weightExpirationPeriod", raw.get("weightExpirationPeriod")),
        duration(f"{path}.weightUpdatePeriod", raw.get("weightUpdatePeriod")),
        penalty, tuple(str(n) for n in raw.get("metricNamesForComputingUtilization") or ()),
        bool(raw.get("keepResponseHeaders")), oob is not None,
        duration(f"{path}.outOfBand.reportingPeriod", (oob or {}).get("reportingPeriod")),
        port)


def _overrides(raw: Any, errors: list[str]) -> tuple[str, ...]:
    """The headers `endpointOverride.extractFrom` names."""
    if raw is None:
        return ()
    items = raw.get("extractFrom") if isinstance(raw, Mapping) else None
    headers = tuple(str(i["header"]) for i in items or () if isinstance(i, Mapping)
                    and isinstance(i.get("header"), str) and i["header"])
    if not headers or len(headers) != len(items or ()):
        errors.append("spec.loadBalancer.endpointOverride.extractFrom: name a header in each "
                      "entry (header: x-custom-host)")
    return headers


def _hash(raw: Mapping[str, Any], duration: Duration, errors: list[str],
          ) -> tuple[tuple[HashSource, ...], int]:
    path = "spec.loadBalancer.consistentHash"
    kind = raw.get("type")
    if kind not in HASH_TYPES:
        errors.append(f"{path}.type: {kind!r} is not a hash type: use one of "
                      f"{', '.join(HASH_TYPES)}")
        return (), DEFAULT_TABLE_SIZE
    own = HASH_TYPES[kind]
    for field in HASH_TYPES.values():
        if field is not None and field != own and field in raw:
            errors.append(f"{path}.{field}: type {kind} does not read it: remove it")
    if own is not None and own not in raw:
        errors.append(f"{path}.{own}: type {kind} needs it: set it")
        return (), DEFAULT_TABLE_SIZE
    table = raw.get("tableSize", DEFAULT_TABLE_SIZE)
    if not isinstance(table, int) or not 1 < table <= MAX_TABLE_SIZE or not _prime(table):
        errors.append(f"{path}.tableSize: {table!r} is not a prime number up to "
                      f"{MAX_TABLE_SIZE}: use a prime such as 65537")
        table = DEFAULT_TABLE_SIZE
    if kind == "SourceIP":
        return (HashSource("SourceIP"),), table
    if kind == "Header":
        return _named(path, "header", [raw.get("header")], "Header", errors), table
    if kind == "Headers":
        return _named(path, "headers", list(raw.get("headers") or ()), "Header", errors), table
    if kind == "QueryParams":
        return _named(path, "queryParams", list(raw.get("queryParams") or ()), "QueryParam",
                      errors), table
    cookie = raw.get("cookie")
    named = _named(path, "cookie", [cookie], "Cookie", errors)
    if not named or not isinstance(cookie, Mapping):
        return (), table
    attributes = cookie.get("attributes") or {}
    return (HashSource("Cookie", named[0].name, duration(f"{path}.cookie.ttl", cookie.get("ttl")),
                       tuple(sorted((str(k), str(v)) for k, v in attributes.items()))
                       if isinstance(attributes, Mapping) else ()),), table


def _named(path: str, field: str, items: list[Any],
           kind: Literal["Header", "Cookie", "QueryParam"],
           errors: list[str]) -> tuple[HashSource, ...]:
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name:
            errors.append(f"{path}.{field}: each entry needs a name: set it")
            continue
        out.append(HashSource(kind, name))
    if not out and not any(field in e for e in errors):
        errors.append(f"{path}.{field}: name at least one: add it")
    return tuple(out)


def _prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))

