"""Backends: resolving a route's backendRef to a Service port, and that port to its endpoints.

`Backends.resolve(...)` returns either a `Resolved` (an `ir.Cluster` named
`<namespace>/<service>/<port>`, `h2c` when the Service port's appProtocol is
`kubernetes.io/h2c`, `websocket` (HTTP/1.1, upgrades allowed as everywhere) for
`kubernetes.io/ws`) or a `Refused` with the route condition reason and a message saying what to
fix. A GRPCRoute asks for `h2c` whatever the appProtocol (gRPC is HTTP/2); the cluster keeps the
Service port's name, so an HTTPRoute of the same Gateway sharing that port reaches it over
HTTP/2 too. A Service port governed by a BackendTLSPolicy gets the policy's `UpstreamTLS`.
A backendRef of group gateway.envoyproxy.io, kind Backend (Envoy Gateway's, `api.egbackend`;
always enabled, where Envoy Gateway needs `enableBackend`) resolves to the cluster
`backend/<namespace>/<name>` with the Backend's own endpoints (`Source.fixed`), resolved by the
proxy when they are DNS names, its appProtocol and its TLS; `eg_backends_used` lists the ones
routes asked for, whose status `egbackends` writes.

A resolved cluster has no endpoints yet: they change far more often than anything a route
depends on, so they are looked up last, once a Gateway's IR is built (`finish_clusters`, which
also gives clusters reached over TLS the Gateway's backend client certificate), by
`Endpoints.of(backends.sources[name])` (ready endpoints of the Service's EndpointSlices, the
Service port mapped to the endpoint port by port name). Only IP addresses of the slice's
addressType are endpoints: Envoy takes nothing else, and one name (an FQDN slice's) would make
it refuse the whole cluster. A cluster whose BackendTLSPolicy cannot be used gets none, so
requests fail with a 5xx rather than reach the backend unverified. An EndpointSlice change
therefore changes no answer of `Backends`, no route's translation, no route table: only the
clusters' endpoints. A cluster with `members` (a session rule's, `sessions`) gets theirs,
weighted.
With a store (the memo's), a cluster keeps its filled object while it is the same object and
its endpoints are unchanged; while `Backends` and `Endpoints` are last pass's too, a Gateway's
clusters are checked by identity only.

Answers are computed once per `Backends` for each distinct question; an answer equal to the one
`known` (an earlier `answers`) holds is that same object, so comparing answers across passes is
mostly an identity check. `traced(fn)` runs `fn` and returns the questions it asked with their
answers; `still(trace)` says whether every one of them is answered the same now (how
`memo.Memo` knows translated rules are current).

`Backends.extension(...)` answers the same way for an ExtensionRef filter naming an Envoy
Gateway HTTPRouteFilter (`routefilters.resolve`), so a route's rules are translated again
when the filter or its ConfigMap changes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from propylon.api import egbackend
from propylon.api.core import EndpointSlice, Service, is_endpoint_address, service_of_host
from propylon.api.egbackend import EgBackend
from propylon.api.gateway import GROUP
from propylon.ir.model import (
    Cluster,
    Endpoint,
    GatewayIR,
    SubjectAltName,
    TrustBundle,
    UpstreamTLS,
)
from propylon.ir.model import Secret as SecretIR
from propylon.translate import conditions as c
from propylon.translate import routefilters
from propylon.translate.backendtls import BackendTLS, ca_bundle, cluster_name
from propylon.translate.references import Grants
from propylon.translate.sessions import member_endpoints
from propylon.translate.types import Store

H2C = "kubernetes.io/h2c"
WEBSOCKET = "kubernetes.io/ws"
_PROTOCOLS: dict[str | None, Literal["h2c", "websocket"]] = {H2C: "h2c", WEBSOCKET: "websocket"}
T = TypeVar("T")
# the group of a referring kind that is not a Gateway API route (ReferenceGrants name it)
_FROM_GROUPS = {"SecurityPolicy": "gateway.envoyproxy.io"}


@dataclass(frozen=True)
class Resolved:
    cluster: Cluster


Refused = routefilters.Refused


# the last item says what is asked: a backendRef (None, or "h2c" for a GRPCRoute's) or an
# ExtensionRef filter ("extension")
Question = tuple[str, str, str, str, str, str | None, int | None,
                 Literal["h2c", "extension"] | None]
Answer = Resolved | Refused | routefilters.Found
Trace = tuple[tuple[Question, Answer], ...]
Answers = dict[Question, Answer]


@dataclass(frozen=True)
class Source:
    """Where a cluster's endpoints come from: a Service port (by name, and its targetPort when a
    number), or nowhere (`withheld`: its BackendTLSPolicy cannot be used)."""

    namespace: str
    service: str
    port_name: str
    target_port: int | None
    withheld: bool = False
    fixed: tuple[Endpoint, ...] = ()  # an Envoy Gateway Backend's own endpoints
    hostname: str | None = None  # the FQDN of a Backend naming this Service


class Backends:
    def __init__(self, services: Iterable[Service], grants: Grants, tls: BackendTLS,
                 known: Answers | None = None,
                 filters: routefilters.RouteFilters | None = None,
                 eg_backends: Iterable[EgBackend] = ()) -> None:
        self._services = {(s.meta.namespace, s.meta.name): s for s in services}
        self._eg_backends = {(b.meta.namespace, b.meta.name): b for b in eg_backends}
        # Backends whose references cannot be used (their CA ConfigMaps), with why
        self.eg_problems: dict[tuple[str, str], str] = {}
        self._filters = filters or routefilters.RouteFilters((), ())
        self._grants = grants
        self.tls = tls
        self._known = known or {}
        self.answers: Answers = {}
        self.sources: dict[str, Source] = {}  # cluster name -> its endpoints' source
        self._trace: list[tuple[Question, Answer]] | None = None

    def resolve(self, route_kind: str, route_namespace: str, group: str, kind: str, name: str,
                namespace: str | None, port: int | None,
                protocol: Literal["h2c"] | None = None) -> Resolved | Refused:
        answer = self._traced((route_kind, route_namespace, group, kind, name, namespace, port,
                               protocol))
        assert not isinstance(answer, routefilters.Found)
        return answer

    def extension(self, route_kind: str, route_namespace: str, group: str, kind: str,
                  name: str) -> routefilters.Found | Refused:
        """What the ExtensionRef filter (group, kind, name) of a route does, or why not."""
        answer = self._traced((route_kind, route_namespace, group, kind, name, None, None,
                               "extension"))
        assert not isinstance(answer, Resolved)
        return answer

    def _traced(self, question: Question) -> Answer:
        answer = self._answer(question)
        if self._trace is not None:
            self._trace.append((question, answer))
        return answer

    def traced(self, fn: Callable[[], T]) -> tuple[T, Trace]:
        """`fn()`, and every (question, answer) of `resolve` it caused, in order."""
        outer, self._trace = self._trace, []
        try:
            value = fn()
            return value, tuple(self._trace)
        finally:
            self._trace = outer

    def still(self, trace: Trace) -> bool:
        """Whether every question of `trace` has the same answer now."""
        for question, answer in trace:
            now = self._answer(question)
            if now is not answer and now != answer:
                return False
        return True

    def eg_backends_used(self) -> list[EgBackend]:
        """The Envoy Gateway Backends some backendRef asked for and may use, by namespace and
        name."""
        keys = {(q[5] or q[1], q[4]) for q, answer in self.answers.items()
                if (q[2], q[3]) == (egbackend.GROUP, egbackend.KIND) and q[7] != "extension"
                and not (isinstance(answer, Refused) and answer.reason == c.REF_NOT_PERMITTED)}
        return [self._eg_backends[k] for k in sorted(keys) if k in self._eg_backends]

    def _answer(self, question: Question) -> Answer:
        answer = self.answers.get(question)
        if answer is None:
            route_kind, namespace, group, kind, name, _, _, mode = question
            answer = self._filters.resolve(route_kind, namespace, group, kind, name) \
                if mode == "extension" else self._resolve(*question[:7], mode)
            known = self._known.get(question)
            self.answers[question] = answer = known if known == answer else answer
        return answer

    def _resolve(self, route_kind: str, route_namespace: str, group: str, kind: str, name: str,
                 namespace: str | None, port: int | None,
                 protocol: Literal["h2c"] | None) -> Resolved | Refused:
        ns = namespace or route_namespace
        if (group, kind) == (egbackend.GROUP, egbackend.KIND):
            return self._eg_backend(route_kind, route_namespace, name, ns, protocol)
        if group != "" or kind != "Service":
            return Refused(c.INVALID_KIND, f'backendRef "{name}" has kind "{kind}" in group '
                           f'"{group}"; only core Services and Envoy Gateway Backends are '
                           f'supported: set group "" and kind Service, or group '
                           f'{egbackend.GROUP} and kind Backend')
        if not self._grants.allows(_FROM_GROUPS.get(route_kind, GROUP), route_kind,
                                   route_namespace, "", "Service", ns, name):
            return _not_granted("Service", ns, name, route_kind, route_namespace)
        service = self._services.get((ns, name))
        if service is None:
            return Refused(c.BACKEND_NOT_FOUND, f'Service "{ns}/{name}" not found: create it or fix '
                           f'the backendRef name')
        if port is None:
            return Refused(c.UNSUPPORTED_VALUE, f'backendRef to Service "{ns}/{name}" has no port: '
                           f'set port')
        service_port = service.port(port)
        if service_port is None:
            known = ", ".join(str(p.port) for p in service.ports) or "none"
            return Refused(c.BACKEND_NOT_FOUND, f'Service "{ns}/{name}" has no port {port} '
                           f'(ports: {known}): fix the backendRef port')
        cluster = cluster_name(ns, name, port)
        governed = self.tls.for_cluster(cluster)
        self.sources[cluster] = Source(
            ns, name, service_port.name,
            service_port.target_port if isinstance(service_port.target_port, int) else None,
            governed is not None and governed.tls is None)
        chosen: Literal["http1", "h2c", "websocket"] = (
            protocol or _PROTOCOLS.get(service_port.app_protocol) or "http1")
        return Resolved(Cluster(cluster, (), chosen,
                                governed.tls if governed is not None else None))

    def _eg_backend(self, route_kind: str, route_namespace: str, name: str, ns: str,
                    protocol: Literal["h2c"] | None) -> Resolved | Refused:
        """An Envoy Gateway Backend's cluster, `backend/<namespace>/<name>`: its IP or socket
        endpoints, or its FQDN endpoints resolved by the proxy (STRICT_DNS); one FQDN naming a
        Service's cluster DNS name (`<service>.<namespace>.svc.cluster.local`) with one of its
        ports takes that Service's endpoints, as there may be no cluster DNS."""
        if not self._grants.allows(_FROM_GROUPS.get(route_kind, GROUP), route_kind,
                                   route_namespace, egbackend.GROUP, egbackend.KIND, ns, name):
            return _not_granted(egbackend.KIND, ns, name, route_kind, route_namespace)
        backend = self._eg_backends.get((ns, name))
        if backend is None:
            return Refused(c.BACKEND_NOT_FOUND, f'Backend "{ns}/{name}" not found: create it or '
                           f'fix the backendRef name')
        if backend.problems:
            return Refused(c.BACKEND_NOT_FOUND, f'Backend "{ns}/{name}" is not accepted: '
                           + "; ".join(backend.problems))
        cluster = f"backend/{ns}/{name}"
        service = self._service_of(backend)
        if service is not None:
            self.sources[cluster] = service
        else:
            self.sources[cluster] = Source(ns, name, "", None, fixed=tuple(
                Endpoint(e.address, e.port, hostname=e.address if e.kind == "fqdn" else None)
                for e in backend.endpoints))
        trust = None
        if backend.tls is not None and backend.tls.ca_refs:
            pems, problems = ca_bundle(backend.tls.ca_refs, ns, self.tls.config_maps)
            if problems:
                problem = self.eg_problems[(ns, name)] = "; ".join(
                    f"spec.tls.{m}" for _, m in problems)
                return Refused(c.BACKEND_NOT_FOUND,
                               f'Backend "{ns}/{name}" is not accepted: {problem}')
            trust = TrustBundle(f"backend/{ns}/{name}", "".join(pems))
        tls = None if backend.tls is None else UpstreamTLS(
            backend.tls.sni, trust, (SubjectAltName("DNS", backend.tls.sni),))
        return Resolved(Cluster(cluster, (), protocol or backend.protocol or "http1", tls,
                                resolver="dns" if backend.dns and service is None else None))

    def _service_of(self, backend: EgBackend) -> Source | None:
        """The Service port the Backend's one FQDN endpoint names, if any."""
        if len(backend.endpoints) != 1 or backend.endpoints[0].kind != "fqdn":
            return None
        endpoint = backend.endpoints[0]
        named = service_of_host(endpoint.address)
        service = self._services.get(named) if named is not None else None
        port = service.port(endpoint.port) if service is not None else None
        if service is None or port is None:
            return None
        return Source(service.meta.namespace, service.meta.name, port.name,
                      port.target_port if isinstance(port.target_port, int) else None,
                      hostname=endpoint.address)


def _not_granted(kind: str, ns: str, name: str, route_kind: str,
                 route_namespace: str) -> Refused:
    plural = f'{route_kind.removesuffix("y")}{"ies" if route_kind.endswith("y") else "s"}'
    return Refused(c.REF_NOT_PERMITTED, f'backendRef to {kind} "{ns}/{name}" is in another '
                   f'namespace and no ReferenceGrant in "{ns}" allows it from {plural} in '
                   f'"{route_namespace}": create one')


class Endpoints:
    """The ready endpoints of Service ports, from one set of EndpointSlices."""

    def __init__(self, slices: Iterable[EndpointSlice]) -> None:
        self._slices: dict[tuple[str, str], list[EndpointSlice]] = {}
        for s in slices:
            self._slices.setdefault((s.meta.namespace, s.service_name), []).append(s)
        self._found: dict[Source, tuple[Endpoint, ...]] = {}

    def of(self, source: Source | None) -> tuple[Endpoint, ...]:
        if source is None or source.withheld:
            return ()
        if source.fixed:
            return source.fixed
        found = self._found.get(source)
        if found is None:
            found = self._found[source] = self._lookup(source)
        return found

    def _lookup(self, source: Source) -> tuple[Endpoint, ...]:
        found: set[Endpoint] = set()
        for s in self._slices.get((source.namespace, source.service), ()):
            target = next((p.port for p in s.ports if p.name == source.port_name), None)
            if target is None and source.target_port is not None and not s.ports:
                target = source.target_port
            if target is None:
                continue
            for e in s.endpoints:
                if e.ready:
                    found.update(Endpoint(a, target, hostname=source.hostname)
                                 for a in e.addresses if is_endpoint_address(a, s.address_type))
        return tuple(sorted(found, key=lambda e: (e.address, e.port)))


@dataclass(frozen=True)
class _Finished:
    """A Gateway's clusters as given and finished, and what they were finished with."""

    given: tuple[Cluster, ...]
    backends: Backends
    endpoints: Endpoints
    certificate: SecretIR | None
    # name -> (given, its endpoints, finished)
    found: dict[str, tuple[Cluster, tuple[Endpoint, ...], Cluster]]
    finished: tuple[Cluster, ...]


def same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Whether `a` and `b` hold the same objects in the same order (compared in C)."""
    return a is b or (len(a) == len(b) and all(map(operator.is_, a, b)))


def finish_clusters(ir: GatewayIR, backends: Backends, endpoints: Endpoints,
                    certificate: SecretIR | None, store: Store) -> GatewayIR:
    """`ir` with every cluster given its endpoints, and the Gateway's backend client
    `certificate` on the clusters reached over TLS (the Secret joins the IR's when one is).
    What `store` kept of the Gateway's last pass is reused whole while the clusters, `backends`
    and `endpoints` are the same objects and the certificate is equal, and otherwise cluster by
    cluster while a cluster and its endpoints are unchanged."""
    key = ("clusters", ir.key)
    old: _Finished | None = store.get(key)
    if old is not None and old.backends is backends and old.endpoints is endpoints \
            and same(old.given, ir.clusters) and old.certificate == certificate:
        return _with(ir, old.finished, certificate)
    before = old.found if old is not None and old.certificate == certificate else {}
    found = {}
    for cluster in ir.clusters:
        endpoints_of = endpoints.of(backends.sources.get(cluster.name)) \
            if not cluster.members else member_endpoints(
                cluster.members, lambda name: endpoints.of(backends.sources.get(name)))
        last = before.get(cluster.name)
        if last is None or last[0] is not cluster or last[1] != endpoints_of:
            last = (cluster, endpoints_of, _finished(cluster, endpoints_of, certificate))
        found[cluster.name] = last
    finished = tuple(f[2] for f in found.values())
    store.put(key, _Finished(ir.clusters, backends, endpoints, certificate, found, finished))
    return _with(ir, finished, certificate)


def _with(ir: GatewayIR, clusters: tuple[Cluster, ...], certificate: SecretIR | None) -> GatewayIR:
    """`ir` with `clusters`, and `certificate` among its Secrets when a cluster presents it."""
    if certificate is None or not any(cl.tls for cl in clusters):
        return replace(ir, clusters=clusters)
    secrets = {s.name: s for s in ir.secrets}
    secrets[certificate.name] = certificate
    return replace(ir, clusters=clusters,
                   secrets=tuple(sorted(secrets.values(), key=lambda s: s.name)))


def _finished(cluster: Cluster, endpoints: tuple[Endpoint, ...],
              certificate: SecretIR | None) -> Cluster:
    if cluster.tls is None or certificate is None:
        return replace(cluster, endpoints=endpoints)
    return replace(cluster, endpoints=endpoints,
                   tls=replace(cluster.tls, client_certificate=certificate.name))
