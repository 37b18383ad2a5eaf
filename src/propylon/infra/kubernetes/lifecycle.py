"""How a proxy pod starts, proves it is configured, is observed and stops without dropping
requests (pure: plain dicts, no I/O).

Ports of the pod (`ProxyPorts`, Envoy Gateway's numbers):
- `admin` (19000, loopback only): Envoy's admin interface, used by the shutdown manager;
- `stats` (19001): a listener serving only `/stats/prometheus`, proxied to the admin;
- `ready` (19003): a listener whose health check filter answers `/ready` 200, 503 once the
  shutdown manager failed Envoy's health check;
- 19004 (loopback only): the htpasswd check service the shutdown manager serves
  (`propylon.htpasswd.service`), so no basic auth check leaves the pod.

`proxy_bootstrap()` adds the two listeners, the admin cluster they need and a heap limit to a
bootstrap. Static listeners accept connections only after Envoy's initialisation, which waits
(`initial_fetch_timeout` 0) for the first listeners and clusters from xDS: a pod is ready only
once it holds the Gateway's configuration, and a pod the control plane never answers stays not
ready instead of serving nothing after 15 s. The overload manager shrinks the heap at 95% and
stops accepting requests at 98% of `heap_limit()` (80% of the container's memory limit), so
Envoy sheds load instead of being killed.

The pod-termination sequence has no network endpoint: the shutdown manager sidecar (the
Propylon image, `infra.kubernetes.shutdown`) drains in its preStop hook, an exec in the pod
(`shutdown_manager_pre_stop()`: fail readiness, `/drain_listeners?graceful`, wait at least
`min_drain_s` for endpoints to follow, then until no connection is left or `drain_timeout_s`)
and then writes `DRAINED_FILE` in an emptyDir both containers mount; the Envoy container's
preStop hook (`envoy_pre_stop()`, `sh` of the Envoy image) waits for that file. The kubelet
sends each container SIGTERM only after its hook, within `termination_grace_s()`. Envoy runs
with `--drain-strategy immediate` and a `--drain-time-s` past the wait, so its listeners accept
late connections throughout.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from propylon.api.compression import byte_size
from propylon.htpasswd import service

SHUTDOWN_DIR = "/var/run/propylon-shutdown"  # an emptyDir both containers mount
DRAINED_FILE = f"{SHUTDOWN_DIR}/drained"
READY_PATH = "/ready"
ADMIN_CLUSTER = "propylon_admin"
HEAP_FRACTION = 0.8
_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3." \
       "HttpConnectionManager"
_ROUTER = {"name": "envoy.filters.http.router", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


@dataclass(frozen=True)
class ProxyPorts:
    """The pod's own ports next to the Gateway's listeners."""

    admin: int = 19000
    stats: int = 19001
    ready: int = 19003
    address: str = "0.0.0.0"  # where the stats and ready listeners bind

    def reserved(self) -> dict[int, str]:
        """The pod's own ports, which no Gateway listener can use, and what they serve."""
        return {self.admin: "Envoy's admin interface", self.stats: "the proxy's metrics",
                self.ready: "the proxy's readiness probe",
                service.PORT: "the proxy's htpasswd check service"}


@dataclass(frozen=True)
class Drain:
    """The drain bounds of the termination sequence, in seconds."""

    min_drain_s: int = 5
    drain_timeout_s: int = 60

    def envoy_args(self) -> list[str]:
        return ["--drain-time-s", str(self.min_drain_s + self.drain_timeout_s),
                "--drain-strategy", "immediate"]

    def termination_grace_s(self) -> int:
        """The drain, and a margin for the hooks and Envoy's exit."""
        return self.min_drain_s + self.drain_timeout_s + 15


def heap_limit(resources: dict[str, Any]) -> int | None:
    """The heap Envoy may use: 80% of the container's memory limit (None without a limit)."""
    limit = byte_size(((resources or {}).get("limits") or {}).get("memory"))
    return int(limit * HEAP_FRACTION) if limit else None


def _listener(name: str, ports: ProxyPorts, port: int, routes: list[dict[str, Any]],
              filters: list[dict[str, Any]]) -> dict[str, Any]:
    manager = {"@type": _HCM, "stat_prefix": name,
               "http_filters": [*filters, copy.deepcopy(_ROUTER)],
               "route_config": {"name": name, "virtual_hosts": [
                   {"name": name, "domains": ["*"], "routes": [
                       *routes, {"match": {"prefix": "/"}, "direct_response": {"status": 404}}]}]}}
    return {"name": name,
            "address": {"socket_address": {"address": ports.address, "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": manager}]}]}


def _stats_listener(ports: ProxyPorts) -> dict[str, Any]:
    route = {"match": {"path": "/stats/prometheus"}, "route": {"cluster": ADMIN_CLUSTER}}
    return _listener("propylon-stats", ports, ports.stats, [route], [])


def _ready_listener(ports: ProxyPorts) -> dict[str, Any]:
    check = {"name": "envoy.filters.http.health_check", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
        "pass_through_mode": False,
        "headers": [{"name": ":path", "string_match": {"exact": READY_PATH}}]}}
    return _listener("propylon-ready", ports, ports.ready, [], [check])


def _admin_cluster(ports: ProxyPorts) -> dict[str, Any]:
    address = {"socket_address": {"address": "127.0.0.1", "port_value": ports.admin}}
    return {"name": ADMIN_CLUSTER, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": ADMIN_CLUSTER, "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": address}}]}]}}


def _heap_monitor(limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = "envoy.resource_monitors.fixed_heap"
    monitor = {"name": name, "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3."
                 "FixedHeapConfig", "max_heap_size_bytes": limit}}
    actions = [{"name": action, "triggers": [{"name": name, "threshold": {"value": value}}]}
               for action, value in (("envoy.overload_actions.shrink_heap", 0.95),
                                     ("envoy.overload_actions.stop_accepting_requests", 0.98))]
    return monitor, actions


def proxy_bootstrap(base: dict[str, Any], ports: ProxyPorts,
                    heap_bytes: int | None) -> dict[str, Any]:
    """`base` (an xDS bootstrap) with the readiness and stats listeners, the admin cluster,
    xDS initialisation without a deadline and, with `heap_bytes`, the heap limit."""
    out = copy.deepcopy(base)
    dynamic = out["dynamic_resources"]
    for source in ("lds_config", "cds_config"):
        dynamic[source]["initial_fetch_timeout"] = "0s"
    static = out["static_resources"]
    static["clusters"] = [*static.get("clusters", []), _admin_cluster(ports)]
    static["listeners"] = [*static.get("listeners", []), _stats_listener(ports),
                           _ready_listener(ports)]
    if heap_bytes:
        monitor, actions = _heap_monitor(heap_bytes)
        overload = out.setdefault("overload_manager", {})
        overload["refresh_interval"] = "0.25s"
        overload["resource_monitors"] = [*overload.get("resource_monitors", []), monitor]
        overload["actions"] = [*overload.get("actions", []), *actions]
    return out


def probes(ports: ProxyPorts) -> dict[str, Any]:
    """The Envoy container's startup, readiness and liveness probes (all on /ready: live means
    configured; startup allows a slow first xDS answer, liveness restarts a stuck Envoy)."""
    def ready() -> dict[str, Any]:
        return {"httpGet": {"path": READY_PATH, "port": ports.ready, "scheme": "HTTP"}}
    return {
        "startupProbe": {**ready(), "periodSeconds": 1, "timeoutSeconds": 1,
                         "failureThreshold": 120},
        "readinessProbe": {**ready(), "periodSeconds": 2, "timeoutSeconds": 1,
                           "successThreshold": 1, "failureThreshold": 1},
        "livenessProbe": {"tcpSocket": {"port": ports.ready}, "periodSeconds": 10,
                          "timeoutSeconds": 1, "failureThreshold": 3},
    }


def envoy_pre_stop() -> dict[str, Any]:
    """The Envoy container's preStop hook: wait until the shutdown manager has drained."""
    wait = f"until [ -e {DRAINED_FILE} ]; do sleep 1; done"
    return {"preStop": {"exec": {"command": ["sh", "-c", wait]}}}


def shutdown_manager_pre_stop(ports: ProxyPorts, drain: Drain) -> dict[str, Any]:
    """The sidecar's preStop hook: the drain (`propylon proxy-shutdown-manager drain`)."""
    return {"preStop": {"exec": {"command": [
        "propylon", "proxy-shutdown-manager", "drain",
        "--admin", f"http://127.0.0.1:{ports.admin}", "--drained-file", DRAINED_FILE,
        "--min-drain", str(drain.min_drain_s), "--drain-timeout", str(drain.drain_timeout_s)]}}}


def shutdown_manager_args() -> list[str]:
    """The sidecar's command: it serves the htpasswd check service on loopback until SIGTERM;
    its drain work is its preStop hook."""
    return ["propylon", "proxy-shutdown-manager", "wait"]
