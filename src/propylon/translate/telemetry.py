"""What each Gateway's proxies log: resolved after the backends stage, said in the Gateway's
status, put into its IR after the policies stage.

`resolve(keys, telemetry, backends, endpoints)` takes each Gateway's `Telemetry`
(`api.accesslog`, chosen by `parameters.Resolver.telemetry`) and resolves the collector of
every gRPC sink: a backendRef (a Service, or whatever `Backends` resolves) becomes a cluster of
its own named `accesslog/<namespace>/<name>/<port>` (HTTP/2 without TLS, the endpoints of this
pass), a DNS host a cluster `accesslog/dns/<host>:<port>` the proxy resolves. A collector that
cannot be resolved leaves its log out (there is nothing to send records to) and becomes a
problem; `noted(states, logged)` adds the problems to the Gateway's Accepted message (it stays
Accepted: only that log is lost). `apply(irs, logged)` gives every listener of a Gateway's IR
its access logs, adds the collectors' clusters, and gives every cluster with an active health
check the health-check event log files (with the memo's store, last pass's equal objects, so
an unchanged Gateway's IR is the same object).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from propylon.api.accesslog import AccessLogSetting, Collector, Telemetry
from propylon.api.envoyproxy import KIND as ENVOY_PROXY
from propylon.ir.model import Cluster, Endpoint, GatewayIR, GatewayKey
from propylon.ir.telemetry import AccessLog
from propylon.translate.backends import Backends, Endpoints, Refused
from propylon.translate.gateways import GatewayState
from propylon.translate.types import Store

PREFIX = "accesslog"
Key = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Logged:
    """A Gateway's logs with their collectors resolved, and what is left out and why."""

    access_logs: tuple[AccessLog, ...]
    clusters: tuple[Cluster, ...]
    health_check_log_paths: tuple[str, ...]
    problems: tuple[str, ...]


def _collector_cluster(collector: Collector, backends: Backends,
                       endpoints: Endpoints) -> tuple[Cluster, str] | str:
    """The cluster of a gRPC sink's collector and the authority it is called with, or why
    there is none."""
    ref = collector.ref
    if ref is None:
        host, port = collector.host or "", collector.port or 0
        return (Cluster(f"{PREFIX}/dns/{host}:{port}", (Endpoint(host, port),), "h2c",
                        resolver="dns"), f"{host}:{port}")
    namespace = ref.namespace or ""
    # the collector is named by an EnvoyProxy, which the cluster's operator writes: no
    # ReferenceGrant is asked for
    answer = backends.resolve(ENVOY_PROXY, namespace, ref.group, ref.kind, ref.name, namespace,
                              ref.port, "h2c")
    if isinstance(answer, Refused):
        return answer.message
    found = answer.cluster
    cluster = replace(found, name=f"{PREFIX}/{namespace}/{ref.name}/{ref.port}",
                      protocol="h2c", endpoints=endpoints.of(backends.sources.get(found.name)))
    return cluster, f"{ref.name}.{namespace}:{ref.port}"


def _logged(telemetry: Telemetry, backends: Backends, endpoints: Endpoints) -> Logged:
    logs, clusters, problems = [], {}, []
    for setting in telemetry.access_logs:
        found = (None if setting.collector is None
                 else _collector_cluster(setting.collector, backends, endpoints))
        if found is None:
            logs.append(setting.log)
        elif isinstance(found, str):
            problems.append(_problem(setting, found))
        else:
            cluster, authority = found
            clusters[cluster.name] = cluster
            logs.append(replace(setting.log, sink=replace(
                setting.log.sink, cluster=cluster.name, authority=authority)))
    return Logged(tuple(logs), tuple(clusters.values()), telemetry.health_check_log_paths,
                  tuple(problems))


def _problem(setting: AccessLogSetting, why: str) -> str:
    return (f"{setting.field}: the collector cannot be resolved ({why}), so this access log "
            "is not written: fix its backendRefs")


def resolve(keys: Iterable[Key], telemetry: Callable[[Key], Telemetry], backends: Backends,
            endpoints: Endpoints) -> dict[Key, Logged]:
    return {key: _logged(telemetry(key), backends, endpoints) for key in keys}


def noted(states: Mapping[Key, GatewayState],
          logged: Mapping[Key, Logged]) -> dict[Key, GatewayState]:
    """`states`, the accepted ones' Accepted message saying which access logs are left out."""
    out = dict(states)
    for key, state in states.items():
        found = logged.get(key)
        if found is not None and found.problems and state.accepted:
            out[key] = replace(state, accepted_message="; ".join(
                [state.accepted_message, *found.problems]))
    return out


def apply(irs: Mapping[GatewayKey, GatewayIR], logged: Mapping[Key, Logged],
          store: Store | None = None) -> dict[GatewayKey, GatewayIR]:
    """Each IR with its proxies' logs; with `store`, a listener or cluster equal to last
    pass's is last pass's object, and an IR nothing changes is returned as is."""
    out = {}
    for key, ir in irs.items():
        found = logged.get((key.namespace, key.name))
        if found is None:
            out[key] = ir
            continue
        logs = found.access_logs
        listeners = tuple(li if li.access_logs == logs else _kept(
            store, ("listener", key, li.name), replace(li, access_logs=logs))
            for li in ir.listeners)
        own = {c.name: _health_logged(c, found.health_check_log_paths, key, store)
               for c in ir.clusters}
        own.update((c.name, _kept(store, ("collector", key, c.name), c))
                   for c in found.clusters)
        clusters = tuple(sorted(own.values(), key=lambda c: c.name))
        unchanged = (all(map(operator.is_, listeners, ir.listeners))
                     and len(clusters) == len(ir.clusters)
                     and all(map(operator.is_, clusters, ir.clusters)))
        out[key] = ir if unchanged else replace(ir, listeners=listeners, clusters=clusters)
    return out


def _kept(store: Store | None, key: tuple[Hashable, ...], value: T) -> T:
    """`value`, or last pass's equal value under `key`."""
    found = store.get(key) if store is not None else None
    if found is not None and found == value:
        value = found
    if store is not None:
        store.put(key, value)
    return value


def _health_logged(cluster: Cluster, paths: tuple[str, ...], key: GatewayKey,
                   store: Store | None) -> Cluster:
    """`cluster`, its active health check logging its events to `paths`."""
    connection = cluster.connection
    health = connection.health_check if connection is not None else None
    if (connection is None or health is None or health.active is None
            or health.event_log_paths == paths):
        return cluster
    return _kept(store, ("health", key, cluster.name), replace(cluster, connection=replace(
        connection, health_check=replace(health, event_log_paths=paths))))
