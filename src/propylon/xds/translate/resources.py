"""`XdsResources`: the Envoy resources of one Gateway, by xDS type URL and then by name.

The five state-of-the-world types Propylon serves over ADS are held as name -> protobuf maps
whose iteration order is sorted by name, so that serialising the same IR always gives the same
bytes. A type's version is a hash of its resources (names and deterministic serialisation): two
snapshots that agree on a type agree on its version, which is how the server knows that an
endpoint-only change needs only an EDS push. `route_clusters` says, per route table, which
clusters it sends traffic to (as `routes.referenced_clusters` would find by walking it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from google.protobuf.message import Message

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

#: Every type URL, in make-before-break order: what a listener or route may reference first.
TYPE_URLS: tuple[str, ...] = (CLUSTER, ENDPOINT, SECRET, LISTENER, ROUTE)

#: Types Envoy subscribes to as a wildcard (every resource) rather than by name.
WILDCARD_TYPES: frozenset[str] = frozenset({LISTENER, CLUSTER})


def version_of(resources: Mapping[str, Message]) -> str:
    """A content hash of named resources: equal exactly when names and contents are equal."""
    digest = hashlib.sha256()
    for name in sorted(resources):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(resources[name].SerializeToString(deterministic=True))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class XdsResources:
    """The resources of one Envoy node; each map is sorted by name."""

    listeners: Mapping[str, Listener]
    routes: Mapping[str, RouteConfiguration]
    clusters: Mapping[str, Cluster]
    endpoints: Mapping[str, ClusterLoadAssignment]
    secrets: Mapping[str, Secret]
    route_clusters: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @cached_property
    def by_type(self) -> Mapping[str, Mapping[str, Message]]:
        """Type URL -> name -> resource."""
        return {
            LISTENER: self.listeners,
            ROUTE: self.routes,
            CLUSTER: self.clusters,
            ENDPOINT: self.endpoints,
            SECRET: self.secrets,
        }

    @cached_property
    def versions(self) -> Mapping[str, str]:
        """Type URL -> content hash of that type's resources."""
        return {type_url: version_of(res) for type_url, res in self.by_type.items()}
