"""The state machine of one state-of-the-world ADS stream (one connected Envoy), without I/O.

For each type URL the stream remembers what Envoy subscribed to, what was last sent (version,
nonce, resources, whether it still awaits an answer), what Envoy last acknowledged, and which
versions it rejected. `on_request()` digests a `DiscoveryRequest`; `responses()` returns the
`DiscoveryResponse`s to send now for the wanted `XdsResources`. Versions are content hashes of
exactly the resources sent, so equal content never causes a push and only changed types are
sent (endpoints alone -> EDS alone; a certificate alone -> SDS alone).

Rules:
- A request whose nonce is not the last one sent for its type is stale and ignored.
- A request with the current nonce is an ACK, or a NACK when it carries `error_detail`; a NACKed
  version is never sent again (Envoy keeps its last good config; a new snapshot moves on).
- At most one response per type is in flight; the next waits for the ACK or NACK.
- A change of the subscribed names is answered even when the version is unchanged.
- Make-before-break: listeners and route tables are held back until Envoy has acknowledged
  every wanted cluster and its endpoints (unless the wanted clusters were rejected, so that one
  bad cluster cannot freeze routing). Clusters that Envoy's acknowledged or in-flight route
  tables still reference are kept in CDS (with their last endpoints) until route tables without
  them are acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from envoy.service.discovery.v3.discovery_pb2 import DiscoveryRequest, DiscoveryResponse
from google.protobuf.message import Message

from propylon.xds.translate import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    TYPE_URLS,
    WILDCARD_TYPES,
    XdsResources,
    referenced_clusters,
    version_of,
)

Resources = Mapping[str, Message]
_GATED = frozenset({LISTENER, ROUTE})


@dataclass
class TypeState:
    """What one stream knows about one type URL."""

    requested: bool = False
    names: frozenset[str] | None = None  # None: wildcard (every resource)
    nonce: str = ""
    sent_version: str = ""
    sent_names: frozenset[str] | None = None
    sent: Resources = field(default_factory=dict)
    in_flight: bool = False
    acked_version: str = ""
    acked: Resources = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Answer:
    """What a request said about the last response of its type."""

    kind: Literal["ack", "nack"]
    type_url: str
    version: str
    nonce: str
    error: str | None = None


class AdsStream:
    """One Envoy's view of the xDS types it subscribed to."""

    def __init__(self) -> None:
        self.types: dict[str, TypeState] = {t: TypeState() for t in TYPE_URLS}
        self._nonce = 0
        # id(route table) -> (that table, the clusters it references), for the tables in Envoy
        # and the wanted ones (whose references `XdsResources.route_clusters` gives unwalked)
        self._references: dict[int, tuple[Message, frozenset[str]]] = {}

    def on_request(self, request: DiscoveryRequest) -> Answer | None:
        """Record a request; returns the ACK or NACK it carries, if any."""
        state = self.types.get(request.type_url)
        if state is None:
            return None
        if request.response_nonce and request.response_nonce != state.nonce:
            return None  # stale: answers a response that has been superseded
        answer: Answer | None = None
        if request.response_nonce and state.in_flight:
            state.in_flight = False
            if request.HasField("error_detail"):
                state.rejected.add(state.sent_version)
                answer = Answer("nack", request.type_url, state.sent_version, state.nonce,
                                request.error_detail.message)
            else:
                state.acked_version, state.acked = state.sent_version, state.sent
                answer = Answer("ack", request.type_url, state.sent_version, state.nonce)
        state.requested = True
        names = frozenset(request.resource_names) - {"*"}
        wildcard = request.type_url in WILDCARD_TYPES and not names
        state.names = None if wildcard else names
        return answer

    def responses(self, wanted: XdsResources | None) -> list[DiscoveryResponse]:
        """The responses to send now, in make-before-break order; marks them in flight."""
        if wanted is None:
            return []
        out: list[DiscoveryResponse] = []
        for type_url in TYPE_URLS:
            state = self.types[type_url]
            if not state.requested or state.in_flight:
                continue
            if type_url in _GATED and not self._clusters_ready(wanted):
                continue
            resources, version = self._desired(type_url, wanted)
            unchanged = version == state.sent_version and state.names == state.sent_names
            if unchanged or version in state.rejected:
                continue
            out.append(self._send(type_url, state, resources, version))
        return out

    def _send(self, type_url: str, state: TypeState, resources: Resources,
              version: str) -> DiscoveryResponse:
        self._nonce += 1
        state.nonce, state.sent_version, state.sent_names = str(self._nonce), version, state.names
        state.sent, state.in_flight = resources, True
        response = DiscoveryResponse(version_info=version, type_url=type_url, nonce=state.nonce)
        for resource in resources.values():
            response.resources.add().Pack(resource)
        return response

    def _desired(self, type_url: str, wanted: XdsResources) -> tuple[Resources, str]:
        state = self.types[type_url]
        full = wanted.by_type[type_url]
        if type_url == CLUSTER:
            resources: Resources = {**self._retained_clusters(wanted), **full}
        elif type_url == ENDPOINT:
            retained = self._retained_clusters(wanted)
            previous = self.types[ENDPOINT].sent
            resources = {**{n: previous[n] for n in retained if n in previous}, **full}
        else:
            resources = full
        if state.names is not None:
            resources = {n: r for n, r in resources.items() if n in state.names}
        if resources.keys() == full.keys():
            return full, wanted.versions[type_url]
        return dict(sorted(resources.items())), version_of(resources)

    def _routes_in_envoy(self) -> list[Message]:
        """Route tables Envoy has or is about to have."""
        state = self.types[ROUTE]
        tables = list(state.acked.values())
        if state.in_flight:
            tables.extend(state.sent.values())
        return tables

    def _retained_clusters(self, wanted: XdsResources) -> Resources:
        """Clusters no longer wanted that Envoy's route tables still send traffic to."""
        sent = self.types[CLUSTER].sent
        still_used: set[str] = set()
        references: dict[int, tuple[Message, frozenset[str]]] = {
            id(table): (table, wanted.route_clusters[name]) for name, table in wanted.routes.items()
            if name in wanted.route_clusters}
        for table in self._routes_in_envoy():
            known = references.get(id(table)) or self._references.get(id(table))
            names = known[1] if known is not None and known[0] is table \
                else referenced_clusters(table)  # type: ignore[arg-type]
            references[id(table)] = (table, names)
            still_used |= names
        self._references = references  # route tables are immutable once sent: walk each once
        return {n: sent[n] for n in sorted(still_used)
                if n in sent and n not in wanted.clusters}

    def _clusters_ready(self, wanted: XdsResources) -> bool:
        """True once Envoy acknowledged every wanted cluster and its endpoints."""
        clusters, endpoints = self.types[CLUSTER], self.types[ENDPOINT]
        if self._desired(CLUSTER, wanted)[1] in clusters.rejected:
            return True
        if any(clusters.acked.get(n) != c for n, c in wanted.clusters.items()):
            return False
        if self._desired(ENDPOINT, wanted)[1] in endpoints.rejected:
            return True
        return all(endpoints.acked.get(n) == e for n, e in wanted.endpoints.items())
