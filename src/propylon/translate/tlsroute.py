"""TLSRoutes: their backends, attaching them to TLS listeners, and their parent status.

`translate_backends(route, backends)` resolves every backendRef of every rule once per route
into weighted TCP backends (an unresolved one keeps its weight with no cluster, so its share of
connections is closed) and the ResolvedRefs failures.

`attach(obj, route, ...)` walks the route's parentRefs like HTTPRoute's, to a Gateway of ours
(its own listeners) or a ListenerSet of ours (that set's listeners; a set its Gateway has not
accepted gives NotAllowedByListeners): sectionName and port (NoMatchingParent), listeners that allow TLSRoutes from the route's namespace
(NotAllowedByListeners: HTTP and HTTPS listeners never do), then hostname intersection with
the listener (NoMatchingListenerHostname). The route attaches to every listener left with the
SNI names it serves there (`TLSAttachment`); ResolvedRefs reports the backends. A route whose
backends are all unresolved stays Accepted, and its connections are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from propylon.api.tlsroute import TLSRoute
from propylon.ir.model import Cluster, WeightedBackend
from propylon.translate.backends import Backends, Refused
from propylon.translate.gateways import GatewayState
from propylon.translate.listenersets import SetState
from propylon.translate.parents import Attached, Attaching, attach_parents
from propylon.translate.types import Now

KIND = "TLSRoute"


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


def translate_backends(route: TLSRoute, backends: Backends) -> TranslatedTLS:
    out = TranslatedTLS()
    weighted = []
    for rule in route.rules:
        for ref in rule.backend_refs:
            resolved = backends.resolve(KIND, route.meta.namespace, ref.group, ref.kind, ref.name,
                                        ref.namespace, ref.port)
            if isinstance(resolved, Refused):
                out.refused.append(resolved)
                weighted.append(WeightedBackend(None, ref.weight))
            else:
                out.clusters[resolved.cluster.name] = resolved.cluster
                weighted.append(WeightedBackend(resolved.cluster.name, ref.weight))
    out.backends = tuple(weighted)
    return out


def attach(obj: dict[str, Any], route: TLSRoute, translated: TranslatedTLS,
           gateways: Mapping[tuple[str, str], GatewayState],
           namespace_labels: Mapping[str, dict[str, str]], controller: str,
           now: Now | None, listener_sets: Mapping[tuple[str, str], SetState] | None = None,
           ) -> Attached:
    """Attach `route` to TLS listeners of our Gateways and ListenerSets (`listenersets.SetState`
    by namespace and name): our status entries and the attachments."""
    name = f"{route.meta.namespace}/{route.meta.name}"
    how = Attaching(KIND, lambda hosts: TLSAttachment(name, route.meta.creation_timestamp, hosts,
                                                      translated), translated.refused)
    return attach_parents(obj, route, how, gateways, namespace_labels, controller, now,
                          listener_sets)
