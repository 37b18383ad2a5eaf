"""The Envoy bootstrap: the only static configuration a Propylon proxy starts with.

`bootstrap()` returns a plain JSON-serialisable dict (the infra manager writes it to a file and
runs `envoy -c <file> --disable-hot-restart`). Everything that describes traffic arrives later
over one ADS stream: listeners and clusters are subscribed through ADS (delta xDS, v3), and the
route configurations, their virtual hosts (VHDS, which Envoy serves only over delta), endpoints
and secrets they reference name ADS as their source too.

The static part holds only what must exist before the first xDS message:
- the node identity (`id` is the Gateway's `namespace/name`, which selects its snapshot);
- the admin listener (it exposes `/quitquitquit` and the config dump): on 127.0.0.1 in a pod
  (`bootstrap()`), on a Unix socket of mode 0600 on a shared machine (`unix_bootstrap()`);
- the `xds_cluster`: HTTP/2 to the control plane with HTTP/2 PINGs (and TCP keepalive over
  TCP), so a dead control plane is noticed, and a short reconnect backoff, so a restarted one is
  found quickly. A hostname (Kubernetes mode) resolves through STRICT_DNS; an IP literal or a
  Unix socket path (standalone mode, `unix_bootstrap()`) is STATIC;
- the `propylon_htpasswd` cluster: HTTP/2 to Propylon's htpasswd check service
  (`propylon.htpasswd.service`), on the stack's Unix socket `htpasswd.sock` next to the xDS one
  (standalone) or on 127.0.0.1 in the pod (Kubernetes mode: the shutdown-manager sidecar);
- the overload manager's global downstream connection limit (which also silences Envoy's
  start-up warning about an unlimited listener);
- a stats inclusion list, so memory stays flat as clusters grow.

With `tls=XdsClientTls(...)` (Kubernetes mode) the `xds_cluster` speaks mutual TLS. Envoy takes
its client certificate and the CA bundle through file-based SDS, the way Envoy Gateway does: the
bootstrap names two SDS documents (`sds_documents()`, written next to it), which point at
`tls.crt`, `tls.key` and `ca.crt` in `cert_dir` and watch that directory, so a rotated
certificate (a Kubernetes Secret volume swaps its files atomically) is picked up without a
restart. The control plane's certificate must carry `server_name` (a DNS name, also sent as SNI,
or an IP address).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from propylon.htpasswd import service

XDS_CLUSTER = "xds_cluster"
MAX_DOWNSTREAM_CONNECTIONS = 50_000
STATS_PREFIXES = ("listener.", "server.", "cluster.", "cluster_manager.", "listener_manager.",
                  "control_plane.", "overload.", "connection_limit.")
STATS_REGEXES = (r"^http\..*\.downstream_.*",)
SDS_CERTIFICATE = "xds-certificate.json"
SDS_TRUSTED_CA = "xds-trusted-ca.json"
_SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


@dataclass(frozen=True)
class XdsClientTls:
    """Where a proxy finds its xDS client credentials, and whom it expects to talk to."""

    sds_dir: str  # holds SDS_CERTIFICATE and SDS_TRUSTED_CA (see `sds_documents`)
    cert_dir: str  # holds tls.crt, tls.key and ca.crt
    server_name: str  # a DNS name or IP address of the control plane's certificate


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _socket_address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def pipe_address(path: PurePath, mode: int | None = None) -> dict[str, Any]:
    """A Unix socket address; `mode` (for a listening socket) sets the file's permissions."""
    return {"pipe": {"path": str(path), **({} if mode is None else {"mode": mode})}}


def sds_documents(tls: XdsClientTls) -> dict[str, dict[str, Any]]:
    """File name -> the SDS document (JSON) to write into `tls.sds_dir`."""
    watched = {"path": tls.cert_dir}
    san_type = "IP_ADDRESS" if _is_ip(tls.server_name) else "DNS"
    certificate = {"@type": _SECRET_TYPE, "name": "xds_certificate", "tls_certificate": {
        "certificate_chain": {"filename": f"{tls.cert_dir}/tls.crt"},
        "private_key": {"filename": f"{tls.cert_dir}/tls.key"},
        "watched_directory": watched}}
    trusted_ca = {"@type": _SECRET_TYPE, "name": "xds_trusted_ca", "validation_context": {
        "trusted_ca": {"filename": f"{tls.cert_dir}/ca.crt"},
        "match_typed_subject_alt_names": [
            {"san_type": san_type, "matcher": {"exact": tls.server_name}}],
        "watched_directory": watched}}
    return {SDS_CERTIFICATE: {"resources": [certificate]},
            SDS_TRUSTED_CA: {"resources": [trusted_ca]}}


def _transport_socket(tls: XdsClientTls) -> dict[str, Any]:
    def sds(name: str, document: str) -> dict[str, Any]:
        return {"name": name, "sds_config": {
            "path_config_source": {"path": f"{tls.sds_dir}/{document}",
                                   "watched_directory": {"path": tls.sds_dir}},
            "resource_api_version": "V3"}}
    context: dict[str, Any] = {"common_tls_context": {
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
        "alpn_protocols": ["h2"],
        "tls_certificate_sds_secret_configs": [sds("xds_certificate", SDS_CERTIFICATE)],
        "validation_context_sds_secret_config": sds("xds_trusted_ca", SDS_TRUSTED_CA)}}
    if not _is_ip(tls.server_name):
        context["sni"] = tls.server_name
    return {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                 "UpstreamTlsContext", **context}}


def _htpasswd_cluster(address: dict[str, Any]) -> dict[str, Any]:
    return {"name": service.CLUSTER, "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": service.CLUSTER, "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": address}}]}]},
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3."
                             "HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}}}}


def _xds_cluster(address: dict[str, Any], static: bool,
                 tls: XdsClientTls | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": XDS_CLUSTER,
        "type": "STATIC" if static else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {
                    "connection_keepalive": {"interval": "30s", "timeout": "5s"},
                }},
            },
        },
    }
    if "socket_address" in address:  # a Unix socket has no TCP keepalive to set
        cluster["upstream_connection_options"] = {"tcp_keepalive": {
            "keepalive_probes": 3, "keepalive_time": 30, "keepalive_interval": 5,
        }}
    if tls is not None:
        cluster["transport_socket"] = _transport_socket(tls)
    return cluster


def bootstrap(node_id: str, xds_host: str, xds_port: int, admin_port: int,
              cluster: str = "propylon", tls: XdsClientTls | None = None) -> dict[str, Any]:
    """The bootstrap of one Envoy that takes its whole configuration from ADS at
    `xds_host:xds_port` (over mutual TLS with `tls`), identifies itself as `node_id` and serves
    its admin interface on 127.0.0.1:`admin_port`."""
    return _bootstrap(node_id, cluster, _socket_address("127.0.0.1", admin_port),
                      _xds_cluster(_socket_address(xds_host, xds_port), _is_ip(xds_host), tls),
                      _htpasswd_cluster(_socket_address("127.0.0.1", service.PORT)))


def unix_bootstrap(node_id: str, xds_socket: PurePath, admin_socket: PurePath,
                   cluster: str = "propylon") -> dict[str, Any]:
    """The bootstrap of one Envoy that takes its configuration from ADS on the Unix socket
    `xds_socket` and serves its admin interface on the Unix socket `admin_socket` (mode 0600);
    the htpasswd check service listens next to `xds_socket`."""
    return _bootstrap(node_id, cluster, pipe_address(admin_socket, 0o600),
                      _xds_cluster(pipe_address(xds_socket), static=True),
                      _htpasswd_cluster(pipe_address(xds_socket.parent / service.SOCKET)))


def _bootstrap(node_id: str, cluster: str, admin: dict[str, Any], xds_cluster: dict[str, Any],
               htpasswd_cluster: dict[str, Any]) -> dict[str, Any]:
    ads_source = {"ads": {}, "resource_api_version": "V3"}
    return {
        "node": {"id": node_id, "cluster": cluster},
        "admin": {"address": admin},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "DELTA_GRPC",
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
        "static_resources": {"clusters": [xds_cluster, htpasswd_cluster]},
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
