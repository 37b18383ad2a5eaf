"""The state machine of one delta ADS stream (one connected Envoy), without I/O.

For each type URL the stream remembers what Envoy subscribed to (a wildcard or names), the
resources Envoy has (name -> version, acknowledged), the one response in flight, and the
(name, version) pairs Envoy rejected. `on_request()` digests a `DeltaDiscoveryRequest`;
`responses()` returns the `DeltaDiscoveryResponse`s to send now for a wanted `Snapshot`: per
type, only the resources whose version differs from what Envoy has, and the removal of those it
must no longer have. A one-route change therefore sends one virtual host.

Rules:
- Subscription changes are always applied. A request whose `response_nonce` is not that of the
  response in flight for its type acknowledges nothing (it is stale).
- A request with the current nonce is an ACK, or a NACK when it carries `error_detail`. On a
  NACK this record keeps Envoy's last good config. Envoy rejects a whole response for some
  types and single resources for others, so a NACK is pinned on a resource only when the
  response carried nothing else: the items of a NACKed response of several are "suspects",
  sent again one per response until each is acknowledged or rejected alone. A rejected
  (name, version) is not sent again until Envoy applied an update of what it may depend on (for
  a listener, secrets and clusters; `_DEPENDS`): a listener refused for
  its rejected secret is sent again once a fixed secret is acknowledged. A virtual host
  rejected alone has its refused route entries isolated and left out (`isolation.py`), so a bad
  route costs only itself. `rejections()` reports what is rejected, with Envoy's messages.
  What Envoy holds of a resource it refused an update of is uncertain (it keeps the content of
  a refused secret, and a listener created then fails on it), so that resource is sent again
  whatever version is wanted next.
- At most one response per type is in flight; the next waits for the ACK or NACK. The first
  request of a type is answered even when there is nothing to send (Envoy's initial fetch of a
  wildcard type, say of clusters when there are none, waits for it).
- A cluster that is sent (new or changed) gets its endpoints sent again after it: Envoy
  warms the rebuilt cluster on an EDS update, and does not ask for one when the name was
  already subscribed (it would wait 15 s and fall back to its cache).
  They are sent in the first endpoints response after the cluster's, whatever Envoy
  acknowledged meanwhile (an endpoints response already in flight was sent before the cluster),
  and when the wanted state no longer has them by then (the cluster is on its way out: the next
  snapshot drops it), the endpoints last sent for it go again, so the rebuilt cluster still
  warms at once: otherwise the cluster response stays unanswered for those 15 s, and every
  later cluster change (the next routes' clusters) waits behind it.
- A name subscribed to again is sent again: Envoy asks again for the endpoints of a cluster it
  rebuilt, and for a route table (and so its virtual hosts) it recreated.
- Envoy's VHDS requests name nothing: it watches, and accepts unsolicited, the virtual hosts
  named `<route table>/...` of every route table it has; so virtual hosts are pushed for the
  route tables Envoy subscribed to over RDS (a table's virtual hosts follow it in the same batch
  of responses, after the table itself), and forgotten with the table. Envoy's listener waits
  (15 s) for the first VHDS update of each table, and an empty response reaches no table: the
  first response after a table without virtual hosts reaches Envoy removes `<table>/`, a name
  no virtual host has, which completes that table's initial fetch.
- Removals are sent for wildcard types (listeners, clusters) and virtual hosts only: Envoy drops
  a named resource (endpoints, route table, secret) itself when it unsubscribes, and ignores a
  removed route table.
- Make-before-break: listeners, route tables and virtual hosts are held back until Envoy has
  acknowledged every wanted cluster and its endpoints (unless they were rejected, so that one
  bad cluster cannot freeze routing). A cluster that a virtual host Envoy has, or is being sent,
  still sends traffic to is not removed until virtual hosts without it are acknowledged.
- A reconnecting Envoy announces what it has (`initial_resource_versions`): resources at the
  wanted version are not resent, the others are replaced or removed. Until a virtual host of
  unknown content is replaced, no cluster is removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from envoy.service.discovery.v3.discovery_pb2 import (
    DeltaDiscoveryRequest,
    DeltaDiscoveryResponse,
)
from google.protobuf.message import Message

from propylon.ir.model import Rejections
from propylon.xds.server.cache import Snapshot
from propylon.xds.server.isolation import RouteIsolation
from propylon.xds.translate import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    SECRET,
    TYPE_URLS,
    VHOST,
    WILDCARD_TYPES,
    vhost_namespace,
)

_GATED = frozenset({LISTENER, ROUTE, VHOST})
_REMOVABLE = frozenset({LISTENER, CLUSTER, VHOST})
_REMOVAL = ""  # the version of a removal in `TypeState.rejected`
_UNCERTAIN = "?"  # the version of a resource Envoy has, after it refused an update of it
_EMPTY_MARK = "{}/"  # a virtual host name that never exists, in a route table's VHDS namespace
# what Envoy's verdict on a resource of a type may depend on, besides the resource itself
_DEPENDS: Mapping[str, tuple[str, ...]] = {
    LISTENER: (SECRET, CLUSTER), CLUSTER: (SECRET,), ENDPOINT: (CLUSTER,)}


@dataclass
class Held:
    """A resource Envoy has or is being sent."""

    version: str
    message: Message | None  # None: announced by a reconnecting Envoy, content unknown
    clusters: frozenset[str] | None = None  # virtual hosts: the clusters it sends traffic to


@dataclass
class Pending:
    """The response of one type in flight."""

    nonce: str
    system_version: str
    added: dict[str, Held]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Rejected:
    """Envoy's verdict on one (name, version): its message, how many updates of the types the
    resource depends on Envoy had applied when it was given, and (virtual hosts) the routes
    refused."""

    message: str
    context: tuple[int, ...]
    routes: tuple[str, ...] = ()


@dataclass
class TypeState:
    """What one stream knows about one type URL."""

    subscribed: bool = False
    answered: bool = False  # a response was sent (the first is sent even when empty)
    wildcard: bool = False
    names: set[str] = field(default_factory=set)
    acked: dict[str, Held] = field(default_factory=dict)
    acked_version: str = ""
    pending: Pending | None = None
    rejected: dict[tuple[str, str], Rejected] = field(default_factory=dict)
    suspects: set[str] = field(default_factory=set)  # items of a NACKed response of several
    applied: int = 0  # acknowledged responses that carried something


@dataclass(frozen=True)
class Answer:
    """What a request said about the last response of its type."""

    kind: Literal["ack", "nack"]
    type_url: str
    version: str
    nonce: str
    error: str | None = None


def _system_version(held: Mapping[str, Held]) -> str:
    """A hash of every (name, version) of one type: equal when Envoy's sets are equal."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(held):
        digest.update(f"{name}\0{held[name].version}\0".encode())
    return digest.hexdigest()


class AdsStream:
    """One Envoy's view of the xDS types it subscribed to."""

    def __init__(self) -> None:
        self.types: dict[str, TypeState] = {t: TypeState() for t in TYPE_URLS}
        self._nonce = 0
        self._vhds_started: set[str] = set()  # route tables whose VHDS had a first response
        self._isolated: dict[str, RouteIsolation] = {}  # virtual hosts with refused routes
        # clusters sent whose endpoints must follow, with the endpoints last sent for each
        self._rewarm: dict[str, Held | None] = {}

    def on_request(self, request: DeltaDiscoveryRequest) -> Answer | None:
        """Record a request; returns the ACK or NACK it carries, if any."""
        type_url = request.type_url
        state = self.types.get(type_url)
        if state is None:
            return None
        answer = self._answer(state, request)
        again = state.subscribed
        if not state.subscribed:
            state.subscribed = True
            state.wildcard = type_url in WILDCARD_TYPES and not request.resource_names_subscribe
            state.acked.update((name, Held(version, None))
                               for name, version in request.initial_resource_versions.items())
        for name in request.resource_names_subscribe:
            if name == "*":
                state.wildcard = True
                continue
            state.names.add(name)
            if again:  # asked for again (a cluster rebuilt, a route table recreated): resend
                self._forget(type_url, name)
        for name in request.resource_names_unsubscribe:
            if name == "*":
                state.wildcard = False
            else:
                state.names.discard(name)
                self._forget(type_url, name)
        return answer

    def _forget(self, type_url: str, name: str) -> None:
        """Envoy no longer has `name` (and a route table's virtual hosts go with it)."""
        self.types[type_url].acked.pop(name, None)
        if type_url == ROUTE:
            vhosts = self.types[VHOST].acked
            for gone in [n for n in vhosts if vhost_namespace(n) == name]:
                del vhosts[gone]
            self._vhds_started.discard(name)

    def _answer(self, state: TypeState, request: DeltaDiscoveryRequest) -> Answer | None:
        pending = state.pending
        if pending is None or request.response_nonce != pending.nonce:
            return None  # no nonce (a subscription change) or a stale one
        state.pending = None
        type_url = request.type_url
        if request.HasField("error_detail"):
            message = request.error_detail.message
            for name in pending.added:  # Envoy may keep some of what it refused: send again
                held = state.acked.get(name)
                if held is not None:
                    held.version = _UNCERTAIN
            if len(pending.added) + len(pending.removed) > 1:  # which one? send them alone
                state.suspects.update(pending.added)
                state.suspects.update(pending.removed)
            else:
                for name, held in pending.added.items():
                    self._reject(type_url, name, held, message)
                for name in pending.removed:
                    state.rejected[(name, _REMOVAL)] = Rejected(message, self._context(type_url))
            return Answer("nack", type_url, pending.system_version, pending.nonce, message)
        done = pending.added.keys() | set(pending.removed)
        state.applied += bool(done)
        state.suspects -= done
        if state.rejected:
            state.rejected = {k: r for k, r in state.rejected.items() if k[0] not in done}
        for name in pending.removed:
            state.acked.pop(name, None)
        if type_url == VHOST:
            for name, held in pending.added.items():
                if name in self._isolated and held.message is not None:
                    self._isolated[name].accepted(held.message)
        state.acked.update((n, held) for n, held in pending.added.items()
                           if self._wants(request.type_url, n))
        state.acked_version = pending.system_version
        return Answer("ack", request.type_url, pending.system_version, pending.nonce)

    def _reject(self, type_url: str, name: str, held: Held, message: str) -> None:
        """Envoy refused `held`, sent alone, with `message`."""
        routes: tuple[str, ...] = ()
        if type_url == VHOST and held.message is not None:
            acked = self.types[VHOST].acked.get(name)
            isolation = self._isolated.get(name) or RouteIsolation(
                acked.message if acked is not None else None)
            if isolation.refused(held.message, message):
                self._isolated[name] = isolation
                return
            routes = tuple(r.name for r in getattr(held.message, "routes", ()))
        self.types[type_url].rejected[(name, held.version)] = Rejected(
            message, self._context(type_url), routes)

    def _context(self, type_url: str) -> tuple[int, ...]:
        return tuple(self.types[t].applied for t in _DEPENDS.get(type_url, ()))

    def rejections(self) -> Rejections:
        """What Envoy refuses of the last snapshot, with its messages."""
        found: dict[str, dict[str, str]] = {LISTENER: {}, SECRET: {}, CLUSTER: {}}
        routes: dict[str, str] = {}
        for type_url, state in self.types.items():
            for (name, version), rejected in state.rejected.items():
                if version == _REMOVAL:
                    continue
                if type_url == VHOST:
                    routes.update(dict.fromkeys(rejected.routes, rejected.message))
                elif type_url in found or type_url == ENDPOINT:
                    found[CLUSTER if type_url == ENDPOINT else type_url][name] = rejected.message
        for isolation in self._isolated.values():
            routes.update(isolation.refused_routes())
        return Rejections(found[LISTENER], found[SECRET], found[CLUSTER], routes)

    def _wants(self, type_url: str, name: str) -> bool:
        """Whether Envoy's subscription covers the resource `name`. Envoy's VHDS requests name
        no resource: it watches the namespace of every route table it subscribed to."""
        if type_url == VHOST:
            return vhost_namespace(name) in self.types[ROUTE].names
        state = self.types[type_url]
        return state.wildcard or name in state.names

    def responses(self, wanted: Snapshot | None) -> list[DeltaDiscoveryResponse]:
        """The responses to send now, in make-before-break order; marks them in flight."""
        if wanted is None:
            return []
        out: list[DeltaDiscoveryResponse] = []
        ready: bool | None = None
        for type_url in TYPE_URLS:
            state = self.types[type_url]
            if not state.subscribed or state.pending is not None:
                continue
            if type_url in _GATED:
                ready = self._clusters_ready(wanted) if ready is None else ready
                if not ready:
                    continue
            response = self._response(type_url, state, wanted)
            if response is not None:
                out.append(response)
        return out

    def _response(self, type_url: str, state: TypeState,
                  wanted: Snapshot) -> DeltaDiscoveryResponse | None:
        resources = wanted.resources.by_type[type_url]
        versions = wanted.versions[type_url]
        clusters = wanted.resources.vhost_clusters
        context = self._context(type_url)
        added: dict[str, Held] = {}
        # (name, version) wanted now, kept only while there is a rejection to prune with it
        track = bool(state.rejected) or (type_url == VHOST and bool(self._isolated))
        current: set[tuple[str, str]] = set()
        for name, message in resources.items():
            if not self._wants(type_url, name):
                continue
            version = versions[name]
            if type_url == VHOST and name in self._isolated:
                message, version = self._isolated[name].effective(message)
                if not self._isolated[name].searching:
                    del self._isolated[name]
            if track:
                current.add((name, version))
            held = state.acked.get(name)
            if held is not None and held.version == version:
                if held.message is None:  # announced on reconnection: now known
                    held.message, held.clusters = message, clusters.get(name)
                continue
            rejected = state.rejected.get((name, version)) if state.rejected else None
            if rejected is None or rejected.context != context:
                added[name] = Held(version, message, clusters.get(name))
        if type_url == ENDPOINT and self._rewarm:
            for name, last in list(self._rewarm.items()):
                if not self._wants(ENDPOINT, name):
                    if name not in wanted.resources.by_type[CLUSTER]:
                        del self._rewarm[name]  # the cluster is gone
                    continue  # asked for later: sent then, as any new subscription
                del self._rewarm[name]
                if name in resources:
                    added[name] = Held(versions[name], resources[name], clusters.get(name))
                elif last is not None:
                    added[name] = last
        removed: tuple[str, ...] = ()
        if type_url in _REMOVABLE:
            kept = self._referenced_clusters(wanted) if type_url == CLUSTER else set()
            removed = tuple(n for n in state.acked if n not in resources and n not in kept)
            current.update((n, _REMOVAL) for n in removed)
            removed = tuple(n for n in removed if (n, _REMOVAL) not in state.rejected)
        if state.rejected:
            state.rejected = {k: r for k, r in state.rejected.items() if k in current}
        if type_url == VHOST and self._isolated:
            wanted_names = {name for name, _ in current}
            for name in [n for n in self._isolated if n not in wanted_names]:
                del self._isolated[name]  # no longer wanted
        if state.suspects:
            added, removed = self._one_suspect(state, added, removed)
        starting: set[str] = set()
        if type_url == VHOST:
            starting = self._tables_in_envoy() - self._vhds_started
            self._vhds_started |= starting
            removed += tuple(_EMPTY_MARK.format(t) for t in sorted(
                starting - {vhost_namespace(n) for n in added}))
        if not added and not removed and state.answered:
            return None
        state.answered = True
        if type_url == CLUSTER:  # a cluster sent (again) warms only on endpoints sent after it
            for name in added:
                endpoints = self.types[ENDPOINT]
                in_flight = endpoints.pending.added.get(name) if endpoints.pending else None
                self._rewarm[name] = endpoints.acked.pop(name, None) or in_flight
        after = {n: h for n, h in state.acked.items() if n not in removed} | added
        self._nonce += 1
        pending = Pending(str(self._nonce), _system_version(after), added, removed)
        state.pending = pending
        response = DeltaDiscoveryResponse(system_version_info=pending.system_version,
                                          type_url=type_url, nonce=pending.nonce,
                                          removed_resources=removed)
        for name, held in added.items():
            resource = response.resources.add(name=name, version=held.version)
            resource.resource.Pack(held.message)
        return response

    @staticmethod
    def _one_suspect(state: TypeState, added: dict[str, Held],
                     removed: tuple[str, ...]) -> tuple[dict[str, Held], tuple[str, ...]]:
        """While a NACKed response of several items is split, one suspect per response."""
        for name in added:
            if name in state.suspects:
                return {name: added[name]}, ()
        for name in removed:
            if name in state.suspects:
                return {}, (name,)
        state.suspects.clear()
        return added, removed

    def _tables_in_envoy(self) -> set[str]:
        """Route tables Envoy has or is about to have."""
        state = self.types[ROUTE]
        tables = set(state.acked)
        if state.pending is not None:
            tables.update(n for n in state.pending.added if n in state.names)
        return tables

    def vhosts_in_envoy(self) -> Iterable[Held]:
        """Virtual hosts Envoy has or is about to have."""
        state = self.types[VHOST]
        yield from state.acked.values()
        if state.pending is not None:
            yield from state.pending.added.values()

    def _referenced_clusters(self, wanted: Snapshot) -> set[str]:
        """Clusters Envoy has, no longer wanted, that its virtual hosts still send traffic to."""
        unwanted = set(self.types[CLUSTER].acked) - wanted.resources.clusters.keys()
        if not unwanted:
            return unwanted
        used: set[str] = set()
        for held in self.vhosts_in_envoy():
            if held.message is None:
                return unwanted  # content unknown: keep every cluster until it is replaced
            used |= held.clusters or frozenset()
        return unwanted & used

    def _clusters_ready(self, wanted: Snapshot) -> bool:
        """True once Envoy acknowledged every wanted cluster and its endpoints, or rejected
        them (a rejected cluster's endpoints are never asked for)."""
        clusters, endpoints = self.types[CLUSTER], self.types[ENDPOINT]
        rejected: set[str] = set()
        for name, version in wanted.versions[CLUSTER].items():
            if (name, version) in clusters.rejected:
                rejected.add(name)
                continue
            held = clusters.acked.get(name)
            if held is None or held.version != version:
                return False
        for name, version in wanted.versions[ENDPOINT].items():
            held = endpoints.acked.get(name)
            if (held is None or held.version != version) and name not in rejected \
                    and (name, version) not in endpoints.rejected:
                return False
        return True
