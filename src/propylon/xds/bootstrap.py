"""The Envoy bootstrap: the only static configuration a Propylon proxy starts with.

`bootstrap()` returns a plain JSON-serialisable dict (the infra manager writes it to a file and
runs `envoy -c <file> --disable-hot-restart`). Everything that describes traffic arrives later
over one ADS stream: listeners and clusters are subscribed through ADS (state of the world, v3),
and the route configurations, endpoints and secrets they reference name ADS as their source too.

The static part holds only what must exist before the first xDS message:
- the node identity (`id` is the Gateway's `namespace/name`, which selects its snapshot);
- the admin listener, on 127.0.0.1 only (it exposes `/quitquitquit` and the config dump);
- the `xds_cluster`: HTTP/2 to the control plane with HTTP/2 PINGs and TCP keepalive, so a dead
  control plane is noticed, and a short reconnect backoff, so a restarted one is found quickly.
  A hostname (Kubernetes mode) resolves through STRICT_DNS; an IP literal through STATIC;
- the overload manager's global downstream connection limit (which also silences Envoy's
  start-up warning about an unlimited listener);
- a stats inclusion list, so memory stays flat as clusters grow.
"""

from __future__ import annotations

import ipaddress
from typing import Any

XDS_CLUSTER = "xds_cluster"
MAX_DOWNSTREAM_CONNECTIONS = 50_000
STATS_PREFIXES = ("listener.", "server.", "cluster.", "cluster_manager.", "listener_manager.",
                  "control_plane.", "overload.")
STATS_REGEXES = (r"^http\..*\.downstream_.*",)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _xds_cluster(xds_host: str, xds_port: int) -> dict[str, Any]:
    return {
        "name": XDS_CLUSTER,
        "type": "STATIC" if _is_ip(xds_host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": _socket_address(xds_host, xds_port)}},
            ]}],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {
                    "connection_keepalive": {"interval": "30s", "timeout": "5s"},
                }},
            },
        },
        "upstream_connection_options": {"tcp_keepalive": {
            "keepalive_probes": 3, "keepalive_time": 30, "keepalive_interval": 5,
        }},
    }


def bootstrap(node_id: str, xds_host: str, xds_port: int, admin_port: int,
              cluster: str = "propylon") -> dict[str, Any]:
    """The bootstrap of one Envoy that takes its whole configuration from ADS at
    `xds_host:xds_port` and identifies itself as `node_id`."""
    ads_source = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": {"id": node_id, "cluster": cluster},
        "admin": {"address": _socket_address("127.0.0.1", admin_port)},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [{"envoy_grpc": {
                    "cluster_name": XDS_CLUSTER,
                    "retry_policy": {"retry_back_off": {
                        "base_interval": "0.1s", "max_interval": "2s",
                    }},
                }}],
            },
            "lds_config": dict(ads_source),
            "cds_config": dict(ads_source),
        },
        "static_resources": {"clusters": [_xds_cluster(xds_host, xds_port)]},
        "overload_manager": {"resource_monitors": [{
            "name": "envoy.resource_monitors.global_downstream_max_connections",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.resource_monitors."
                         "downstream_connections.v3.DownstreamConnectionsConfig",
                "max_active_downstream_connections": MAX_DOWNSTREAM_CONNECTIONS,
            },
        }]},
        "stats_config": {"stats_matcher": {"inclusion_list": {"patterns": [
            *({"prefix": p} for p in STATS_PREFIXES),
            *({"safe_regex": {"regex": r}} for r in STATS_REGEXES),
        ]}}},
    }
