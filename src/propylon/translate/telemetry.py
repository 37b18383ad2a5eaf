"""What each Gateway's proxies log, put into its IR (after the policies stage).

`apply(irs, telemetry, backends, endpoints)` gives every listener of a Gateway's IR the access
logs of its `Telemetry` (`api.accesslog`, chosen by `parameters.Resolver.telemetry`) and every
cluster with an active health check the health-check event log files. A gRPC sink's collector
is resolved here: a backendRef (a Service, or whatever `Backends` resolves) becomes a cluster
of its own named `accesslog/<namespace>/<name>/<port>` (HTTP/2 without TLS, the endpoints of
this pass), a DNS host a cluster `accesslog/dns/<host>:<port>` the proxy resolves. A collector
that cannot be resolved leaves its log out (there is nothing to send it to); `problems()` says
which, for the Gateway's status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from propylon.api.accesslog import AccessLogSetting, Collector, Telemetry
from propylon.api.envoyproxy import KIND as ENVOY_PROXY
from propylon.ir.model import Cluster, Endpoint, GatewayIR, GatewayKey
from propylon.ir.telemetry import AccessLog
from propylon.translate.backends import Backends, Endpoints, Refused

PREFIX = "accesslog"
Key = tuple[str, str]


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
    # the collector is named by the EnvoyProxy, which the cluster's operator wrote: no
    # ReferenceGrant is asked for, as with Envoy Gateway's telemetry backendRefs
    answer = backends.resolve(ENVOY_PROXY, namespace, ref.group, ref.kind, ref.name, namespace,
                              ref.port, "h2c")
    if isinstance(answer, Refused):
        return answer.message
    found = answer.cluster
    cluster = replace(found, name=f"{PREFIX}/{namespace}/{ref.name}/{ref.port}",
                      protocol="h2c",
                      endpoints=endpoints.of(backends.sources.get(found.name)))
    return cluster, f"{ref.name}.{namespace}:{ref.port}"


def resolved(settings: tuple[AccessLogSetting, ...], backends: Backends, endpoints: Endpoints,
             ) -> tuple[tuple[AccessLog, ...], dict[str, Cluster], list[str]]:
    """The access logs of `settings` with their collectors' clusters named, those clusters,
    and what could not be resolved."""
    logs, clusters, problems = [], {}, []
    for setting in settings:
        if setting.collector is None:
            logs.append(setting.log)
            continue
        found = _collector_cluster(setting.collector, backends, endpoints)
        if isinstance(found, str):
            problems.append(f"{setting.field}: the collector cannot be reached: {found}")
            continue
        cluster, authority = found
        clusters[cluster.name] = cluster
        logs.append(replace(setting.log, sink=replace(setting.log.sink, cluster=cluster.name,
                                                      authority=authority)))
    return tuple(logs), clusters, problems


def apply(irs: Mapping[GatewayKey, GatewayIR], telemetry: Callable[[Key], Telemetry],
          backends: Backends, endpoints: Endpoints,
          ) -> tuple[dict[GatewayKey, GatewayIR], dict[GatewayKey, list[str]]]:
    """Each IR with its proxies' logs, and per Gateway what of its telemetry is left out."""
    out, problems = {}, {}
    for key, ir in irs.items():
        wanted = telemetry((key.namespace, key.name))
        logs, clusters, missing = resolved(wanted.access_logs, backends, endpoints)
        if missing:
            problems[key] = missing
        listeners = tuple(li if li.access_logs == logs else replace(li, access_logs=logs)
                          for li in ir.listeners)
        own = {c.name: _health_logged(c, wanted.health_check_log_paths) for c in ir.clusters}
        own.update(clusters)
        out[key] = replace(ir, listeners=listeners,
                           clusters=tuple(sorted(own.values(), key=lambda c: c.name)))
    return out, problems


def _health_logged(cluster: Cluster, paths: tuple[str, ...]) -> Cluster:
    """`cluster`, its active health check logging its events to `paths`."""
    connection = cluster.connection
    health = connection.health_check if connection is not None else None
    if (connection is None or health is None or health.active is None
            or health.event_log_paths == paths):
        return cluster
    return replace(cluster, connection=replace(
        connection, health_check=replace(health, event_log_paths=paths)))


