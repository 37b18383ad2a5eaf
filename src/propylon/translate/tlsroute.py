"""TLSRoutes, TCPRoutes and UDPRoutes: their backends, attaching them to their listeners, and
their parent status.

The three forward streams (UDP: a client's datagrams) to weighted backends without looking into
them, so they share this module; `kind` says which one a call is for (its ReferenceGrants and
the listeners that take it differ).

`translate_backends(route, backends)` resolves every backendRef of every rule once per route
into weighted backends (an unresolved one keeps its weight with no cluster, so its share of
connections is closed) and the ResolvedRefs failures. Envoy's UDP proxy has no weighted
clusters, so a UDPRoute with several backends gets one cluster holding the endpoints of all
of them, each weighted by its backend's share (`sessions.shared_cluster`, as a session rule's).

`attach(obj, route, ...)` walks the route's parentRefs like HTTPRoute's, to a Gateway of ours
(its own listeners) or a ListenerSet of ours (that set's listeners; a set its Gateway has not
accepted gives NotAllowedByListeners): sectionName and port (NoMatchingParent), listeners that
allow the kind from the route's namespace (NotAllowedByListeners: TLSRoutes attach to TLS
listeners only, TCPRoutes to TCP ones, UDPRoutes to UDP ones), then, for TLSRoutes, hostname
intersection with the listener (NoMatchingListenerHostname). The route attaches to every
listener left with the SNI names it serves there (`TLSAttachment`; `*` for TCPRoutes and
UDPRoutes, which have no hostnames); ResolvedRefs reports the backends. A route whose backends
are all unresolved stays Accepted, and its connections are refused. Every route attached to a
listener counts in its attachedRoutes and is Accepted; the IR serves only the oldest of those
claiming the same names (`gatewayir`), as the spec's conflict rules say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from propylon.api.l4route import L4Route
from propylon.api.tlsroute import TLSRoute
from propylon.ir.model import Cluster, WeightedBackend
from propylon.translate.backends import Backends, Refused
from propylon.translate.gateways import GatewayState
from propylon.translate.listenersets import SetState
from propylon.translate.parents import Attached, Attaching, attach_parents
from propylon.translate.sessions import shared_cluster
from propylon.translate.types import Now

KIND = "TLSRoute"
TCP_KIND = "TCPRoute"
UDP_KIND = "UDPRoute"


@dataclass
class TranslatedTLS:
    """A TLSRoute's backends as IR, and what ResolvedRefs must say about them."""

    backends: tuple[WeightedBackend, ...] = ()
    clusters: dict[str, Cluster] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)


@dataclass(frozen=True)
class TLSAttachment:
    """A TLSRoute attached to one TLS listener, serving these SNI names there (`*` = any)."""

    route: str  # "<namespace>/<name>"
    created: str  # creationTimestamp: the oldest route wins an SNI name two routes claim
    hostnames: tuple[str, ...]
    translated: TranslatedTLS


def translate_backends(route: TLSRoute | L4Route, backends: Backends,
                       kind: str = KIND) -> TranslatedTLS:
    out = TranslatedTLS()
    weighted = []
    for rule in route.rules:
        for ref in rule.backend_refs:
            resolved = backends.resolve(kind, route.meta.namespace, ref.group, ref.kind, ref.name,
                                        ref.namespace, ref.port)
            if isinstance(resolved, Refused):
                out.refused.append(resolved)
                weighted.append(WeightedBackend(None, ref.weight))
            else:
                out.clusters[resolved.cluster.name] = resolved.cluster
                weighted.append(WeightedBackend(resolved.cluster.name, ref.weight))
    out.backends = tuple(weighted)
    if kind == UDP_KIND:
        shared, _ = shared_cluster(f"udproute/{route.meta.namespace}/{route.meta.name}", 0,
                                   out.backends, out.clusters)
        if shared is not None:  # the members stay: BackendTLSPolicies find their routes by them
            out.clusters[shared.name] = shared
            out.backends = (WeightedBackend(shared.name, 1),)
    return out


def attach(obj: dict[str, Any], route: TLSRoute | L4Route, translated: TranslatedTLS,
           gateways: Mapping[tuple[str, str], GatewayState],
           namespace_labels: Mapping[str, dict[str, str]], controller: str,
           now: Now | None, listener_sets: Mapping[tuple[str, str], SetState] | None = None,
           kind: str = KIND) -> Attached:
    """Attach `route` to the listeners taking its `kind` of our Gateways and ListenerSets
    (`listenersets.SetState` by namespace and name): our status entries and the
    attachments."""
    name = f"{route.meta.namespace}/{route.meta.name}"
    how = Attaching(kind, lambda hosts: TLSAttachment(name, route.meta.creation_timestamp, hosts,
                                                      translated), translated.refused)
    return attach_parents(obj, route, how, gateways, namespace_labels, controller, now,
                          listener_sets)
