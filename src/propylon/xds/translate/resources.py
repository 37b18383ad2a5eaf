"""`XdsResources`: the Envoy resources of one Gateway, by xDS type URL and then by name.

The six types Propylon serves over delta ADS are held as name -> protobuf maps whose iteration
order is sorted by name, so that serialising the same IR always gives the same bytes. Route
tables carry no virtual hosts: each virtual host is a resource of its own (VHDS), named
`<route table name>/<domain>`, so that one changed hostname is one small update.
`vhost_clusters` says, per virtual host, which clusters it sends traffic to (as
`routes.vhost_clusters` would find by walking it).

`version_of(message)` is a resource's version in delta xDS: a hash of its deterministic
serialisation, equal exactly when the contents are equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.route.v3.route_components_pb2 import VirtualHost
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from google.protobuf.message import Message

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
VHOST = "type.googleapis.com/envoy.config.route.v3.VirtualHost"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

#: Every type URL, in make-before-break order: what a listener or route may reference first.
TYPE_URLS: tuple[str, ...] = (CLUSTER, ENDPOINT, SECRET, LISTENER, ROUTE, VHOST)

#: Types Envoy subscribes to as a wildcard (every resource) rather than by name.
WILDCARD_TYPES: frozenset[str] = frozenset({LISTENER, CLUSTER})


def version_of(message: Message) -> str:
    """A content hash of one resource: equal exactly when the contents are equal."""
    return hashlib.blake2b(message.SerializeToString(deterministic=True),
                           digest_size=8).hexdigest()


def vhost_namespace(name: str) -> str:
    """The route table a virtual host resource belongs to (Envoy's VHDS namespace: the name up
    to its last `/`)."""
    return name.rpartition("/")[0]


@dataclass(frozen=True)
class XdsResources:
    """The resources of one Envoy node; each map is sorted by name."""

    listeners: Mapping[str, Listener]
    routes: Mapping[str, RouteConfiguration]
    clusters: Mapping[str, Cluster]
    endpoints: Mapping[str, ClusterLoadAssignment]
    secrets: Mapping[str, Secret]
    virtual_hosts: Mapping[str, VirtualHost] = field(default_factory=dict)
    vhost_clusters: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # EnvoyPatchPolicy namespace/name -> why its patches were left out (`patches`)
    patch_failures: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def by_type(self) -> Mapping[str, Mapping[str, Message]]:
        """Type URL -> name -> resource."""
        return {
            LISTENER: self.listeners,
            ROUTE: self.routes,
            VHOST: self.virtual_hosts,
            CLUSTER: self.clusters,
            ENDPOINT: self.endpoints,
            SECRET: self.secrets,
        }
