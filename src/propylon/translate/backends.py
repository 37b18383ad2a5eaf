"""Backends: resolving a route's backendRef to a Service port and its ready endpoints.

`Backends.resolve(...)` returns either a `Resolved` (an `ir.Cluster` named
`<namespace>/<service>/<port>`, endpoints from the Service's EndpointSlices, ready endpoints only,
the Service port mapped to the endpoint port by port name, `h2c` when the Service port's
appProtocol is `kubernetes.io/h2c`, `websocket` (HTTP/1.1, upgrades allowed as everywhere) for
`kubernetes.io/ws`) or a `Refused` with the route condition reason and a message
saying what to fix. A GRPCRoute asks for `h2c` whatever the appProtocol (gRPC is HTTP/2); the
cluster keeps the Service port's name, so an HTTPRoute of the same Gateway sharing that port
reaches it over HTTP/2 too. A Service port governed by a BackendTLSPolicy gets the policy's
`UpstreamTLS`; when that policy cannot be used the cluster gets no endpoints, so requests fail
with a 5xx rather than reach the backend unverified.

Answers are computed once per `Backends` (one pass) for each distinct question; an answer equal
to the one `known` (the previous pass's `answers`) holds is that same object, so comparing
answers across passes is mostly an identity check. `traced(fn)`
runs `fn` and returns the questions it asked with their answers; `still(trace)` says whether
every one of them is answered the same now (how `memo.Memo` knows translated rules are current).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from propylon.api.core import EndpointSlice, Service, ServicePort
from propylon.api.gateway import GROUP
from propylon.ir.model import Cluster, Endpoint
from propylon.translate import conditions as c
from propylon.translate.backendtls import BackendTLS, cluster_name
from propylon.translate.references import Grants

H2C = "kubernetes.io/h2c"
WEBSOCKET = "kubernetes.io/ws"
_PROTOCOLS: dict[str | None, Literal["h2c", "websocket"]] = {H2C: "h2c", WEBSOCKET: "websocket"}
T = TypeVar("T")


@dataclass(frozen=True)
class Resolved:
    cluster: Cluster


@dataclass(frozen=True)
class Refused:
    reason: str
    message: str


Question = tuple[str, str, str, str, str, str | None, int | None, Literal["h2c"] | None]
Trace = tuple[tuple[Question, Resolved | Refused], ...]
Answers = dict[Question, Resolved | Refused]


class Backends:
    def __init__(self, services: Iterable[Service], slices: Iterable[EndpointSlice],
                 grants: Grants, tls: BackendTLS,
                 known: Answers | None = None) -> None:
        self._services = {(s.meta.namespace, s.meta.name): s for s in services}
        self._slices: dict[tuple[str, str], list[EndpointSlice]] = {}
        for s in slices:
            self._slices.setdefault((s.meta.namespace, s.service_name), []).append(s)
        self._grants = grants
        self.tls = tls
        self._known = known or {}
        self.answers: Answers = {}
        self._trace: list[tuple[Question, Resolved | Refused]] | None = None

    def resolve(self, route_kind: str, route_namespace: str, group: str, kind: str, name: str,
                namespace: str | None, port: int | None,
                protocol: Literal["h2c"] | None = None) -> Resolved | Refused:
        question = (route_kind, route_namespace, group, kind, name, namespace, port, protocol)
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

    def _answer(self, question: Question) -> Resolved | Refused:
        answer = self.answers.get(question)
        if answer is None:
            answer = self._resolve(*question)
            known = self._known.get(question)
            self.answers[question] = answer = known if known == answer else answer
        return answer

    def _resolve(self, route_kind: str, route_namespace: str, group: str, kind: str, name: str,
                 namespace: str | None, port: int | None,
                 protocol: Literal["h2c"] | None) -> Resolved | Refused:
        ns = namespace or route_namespace
        if group != "" or kind != "Service":
            return Refused(c.INVALID_KIND, f'backendRef "{name}" has kind "{kind}" in group '
                           f'"{group}"; only core Services are supported: set group "" and kind Service')
        if not self._grants.allows(GROUP, route_kind, route_namespace, "", "Service", ns, name):
            return Refused(c.REF_NOT_PERMITTED, f'backendRef to Service "{ns}/{name}" is in another '
                           f'namespace and no ReferenceGrant in "{ns}" allows it from {route_kind}s '
                           f'in "{route_namespace}": create one')
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
        endpoints = self._endpoints(service, service_port)
        if governed is not None and governed.tls is None:
            endpoints = ()
        return Resolved(Cluster(cluster, endpoints,
                                protocol or _PROTOCOLS.get(service_port.app_protocol, "http1"),
                                governed.tls if governed is not None else None))

    def _endpoints(self, service: Service, port: ServicePort) -> tuple[Endpoint, ...]:
        found: set[Endpoint] = set()
        for s in self._slices.get((service.meta.namespace, service.meta.name), ()):
            target = next((p.port for p in s.ports if p.name == port.name), None)
            if target is None and isinstance(port.target_port, int) and not s.ports:
                target = port.target_port
            if target is None:
                continue
            for e in s.endpoints:
                if e.ready:
                    found.update(Endpoint(a, target) for a in e.addresses)
        return tuple(sorted(found, key=lambda e: (e.address, e.port)))
