"""IR -> Envoy protobufs, pure and deterministic.

`translate(ir)` returns `XdsResources`: per xDS type, the resources by name (see
`resources.py`), built by one module per Envoy type (`listeners`, `routes`, `clusters`,
`secrets`). Nothing here does I/O; the server in `propylon.xds.server` serves the result.
"""

from propylon.xds.translate.build import Translator, translate
from propylon.xds.translate.resources import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    SECRET,
    TYPE_URLS,
    VHOST,
    WILDCARD_TYPES,
    XdsResources,
    version_of,
    vhost_namespace,
)
from propylon.xds.translate.routes import INVALID_CLUSTER, vhost_clusters

__all__ = [
    "CLUSTER", "ENDPOINT", "INVALID_CLUSTER", "LISTENER", "ROUTE", "SECRET", "TYPE_URLS",
    "Translator", "VHOST", "WILDCARD_TYPES", "XdsResources", "translate", "version_of",
    "vhost_clusters", "vhost_namespace",
]
