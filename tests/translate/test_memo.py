"""`translate(snapshot, memo)` over a sequence of passes equals `translate(snapshot)` each time.

Hypothesis drives random edits, the way the API server would see them (every write a new
resourceVersion, a new generation when anything but metadata and status changes; deleting and
creating again a new uid): HTTPRoutes and GRPCRoutes created, changed and deleted; Services and
EndpointSlices changed (ports, endpoints, readiness); a ReferenceGrant and Namespace labels
toggled; listener hostnames changed; the statuses of the last result written back (as the status
writer does), or with other condition times (as another writer might); the clock moving on. After every edit, one pass with a long-lived memo must give
exactly the full rebuild's Result (statuses compared by object, not by order), and the xDS
resources a long-lived `xds.translate.Translator` makes of its IR must be those
`xds.translate.translate` makes from scratch (the same bytes).
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.memo import Memo
from propylon.translate.types import Result, Snapshot
from propylon.xds.translate import Translator, XdsResources
from propylon.xds.translate import translate as xds_translate

GW = "gateway.networking.k8s.io/v1"
KEY = GatewayKey("ns1", "gw")
NAMESPACES = ("ns1", "ns2")
HOSTS = ("a.test", "b.test", "x.a.test")
SERVICES = ("svc0", "svc1", "svc2")
INFRA = {KEY: InfraState(KEY, "127.0.0.9", (PortState(80, 80), PortState(8080, 8080)), True)}


class World:
    """The API server's objects, with resourceVersions and uids as it would set them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.versions = itertools.count(1)
        self.now = 0
        self.put({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "c"},
                  "spec": {"controllerName": "propylon.dev/gateway-controller"}})
        self.gateway(None)
        for ns in NAMESPACES:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace", ""), meta["name"])
        old = self.objects.get(key)
        version = next(self.versions)
        old_meta = (old or {}).get("metadata", {})
        generation = old_meta.get("generation", 0) + (old is None or _spec(obj) != _spec(old))
        obj["metadata"] = {**meta, "uid": old_meta.get("uid") or f"uid-{version}",
                           "resourceVersion": str(version), "generation": generation,
                           "creationTimestamp": old_meta.get("creationTimestamp")
                           or f"2026-01-01T00:00:{version % 60:02d}Z"}
        if old is not None and "status" in old and "status" not in obj:
            obj["status"] = old["status"]
        self.objects[key] = obj

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, namespace, name), None)

    def gateway(self, hostname: str | None) -> None:
        listeners: list[dict[str, Any]] = [
            {"name": "all", "port": 80, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "All"}}},
            {"name": "sel", "port": 8080, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
                 "matchLabels": {"team": "a"}}}}}]
        if hostname is not None:
            listeners[1]["hostname"] = hostname
        self.put({"apiVersion": GW, "kind": "Gateway",
                  "metadata": {"name": "gw", "namespace": "ns1"},
                  "spec": {"gatewayClassName": "c", "listeners": listeners}})

    def snapshot(self) -> Snapshot:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for key in sorted(self.objects):
            by_kind.setdefault(key[0], []).append(self.objects[key])
        return Snapshot({k: tuple(v) for k, v in by_kind.items()}, INFRA,
                        now=f"2026-01-01T01:00:{self.now:02d}Z")

    def write_statuses(self, result: Result, times: str | None = None) -> None:
        """Write `result`'s statuses, with every lastTransitionTime set to `times` if given."""
        for update in result.statuses:
            key = (update.kind, update.namespace or "", update.name)
            if key in self.objects:
                obj = dict(self.objects[key])
                obj["status"] = update.status if times is None else _retimed(update.status, times)
                self.put(obj)


def _retimed(value: Any, times: str) -> Any:
    if isinstance(value, dict):
        return {k: times if k == "lastTransitionTime" else _retimed(v, times)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_retimed(v, times) for v in value]
    return value


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server raises the generation for: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


names = st.sampled_from(("r0", "r1", "r2", "r3"))
namespaces = st.sampled_from(NAMESPACES)
backend = st.fixed_dictionaries({
    "name": st.sampled_from((*SERVICES, "missing")), "port": st.sampled_from((80, 81)),
}, optional={"namespace": namespaces, "weight": st.integers(0, 3)})
http_rule = st.fixed_dictionaries({
    "matches": st.lists(st.fixed_dictionaries({"path": st.fixed_dictionaries({
        "type": st.sampled_from(("PathPrefix", "Exact")),
        "value": st.sampled_from(("/", "/a", "/b"))})}), max_size=2),
    "backendRefs": st.lists(backend, max_size=2)})
parent = st.fixed_dictionaries({"name": st.just("gw"), "namespace": st.just("ns1")},
                               optional={"sectionName": st.sampled_from(("all", "sel", "none"))})
spec = st.fixed_dictionaries({
    "parentRefs": st.lists(parent, min_size=1, max_size=2),
    "hostnames": st.lists(st.sampled_from(HOSTS), max_size=2, unique=True),
    "rules": st.lists(http_rule, max_size=2)})
grpc_spec = st.fixed_dictionaries({
    "parentRefs": st.lists(parent, min_size=1, max_size=1),
    "rules": st.lists(st.fixed_dictionaries({"backendRefs": st.lists(backend, max_size=1)}),
                      max_size=1)})


def _service(name: str, ns: str, port: int, app: str | None) -> dict[str, Any]:
    port_spec: dict[str, Any] = {"name": "http", "port": port, "targetPort": 9000}
    if app is not None:
        port_spec["appProtocol"] = app
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [port_spec]}}


def _slice(name: str, ns: str, ready: list[bool]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 9000}],
            "endpoints": [{"addresses": [f"10.0.0.{i + 1}"], "conditions": {"ready": r}}
                          for i, r in enumerate(ready)]}


edit = st.one_of(
    st.tuples(st.just("route"), namespaces, names, spec),
    st.tuples(st.just("grpc"), namespaces, names, grpc_spec),
    st.tuples(st.just("delete"), st.sampled_from(("HTTPRoute", "GRPCRoute")), namespaces, names),
    st.tuples(st.just("service"), namespaces, st.sampled_from(SERVICES),
              st.sampled_from((80, 81)), st.sampled_from((None, "kubernetes.io/h2c"))),
    st.tuples(st.just("unservice"), namespaces, st.sampled_from(SERVICES)),
    st.tuples(st.just("endpoints"), namespaces, st.sampled_from(SERVICES),
              st.lists(st.booleans(), max_size=3)),
    st.tuples(st.just("grant"), st.booleans()),
    st.tuples(st.just("labels"), namespaces, st.booleans()),
    st.tuples(st.just("hostname"), st.sampled_from((None, "*.a.test", "b.test"))),
    st.tuples(st.just("status")),
    st.tuples(st.just("clobber")),
    st.tuples(st.just("tick")),
)


def _apply(world: World, change: tuple[Any, ...], last: Result) -> None:
    match change:
        case ("route", ns, name, body):
            world.put({"apiVersion": GW, "kind": "HTTPRoute",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("grpc", ns, name, body):
            world.put({"apiVersion": GW, "kind": "GRPCRoute",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("delete", kind, ns, name):
            world.delete(kind, ns, name)
        case ("service", ns, name, port, app):
            world.put(_service(name, ns, port, app))
        case ("unservice", ns, name):
            world.delete("Service", ns, name)
        case ("endpoints", ns, name, ready):
            world.put(_slice(name, ns, ready))
        case ("grant", on):
            if on:
                world.put({"apiVersion": "gateway.networking.k8s.io/v1beta1",
                           "kind": "ReferenceGrant", "metadata": {"name": "g", "namespace": "ns2"},
                           "spec": {"from": [{"group": "gateway.networking.k8s.io",
                                              "kind": "HTTPRoute", "namespace": "ns1"}],
                                    "to": [{"group": "", "kind": "Service"}]}})
            else:
                world.delete("ReferenceGrant", "ns2", "g")
        case ("labels", ns, on):
            world.put({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": ns, "labels": {"team": "a"} if on else {}}})
        case ("hostname", hostname):
            world.gateway(hostname)
        case ("status",):
            world.write_statuses(last)
        case ("clobber",):  # someone else rewrites our conditions' times
            world.write_statuses(last, "2000-01-01T00:00:00Z")
        case ("tick",):
            world.now += 1


_ROUTE = {"parentRefs": [{"name": "gw", "namespace": "ns1"}], "hostnames": ["a.test"],
          "rules": [{"matches": [], "backendRefs": [{"name": "svc0", "port": 80}]}]}


@settings(max_examples=150, deadline=None)
@given(st.lists(edit, min_size=1, max_size=25))
# backend changes reach a route only through its lookups: endpoints scaled, the Service gone
@example([("service", "ns1", "svc0", 80, None), ("route", "ns1", "r0", _ROUTE),
          ("endpoints", "ns1", "svc0", [True]), ("endpoints", "ns1", "svc0", [False, True]),
          ("status",), ("unservice", "ns1", "svc0"), ("service", "ns1", "svc0", 80, None)])
# a route's status not written yet follows the clock; a deleted route leaves its hostnames
@example([("route", "ns1", "r0", _ROUTE), ("tick",), ("tick",), ("status",), ("tick",),
          ("route", "ns2", "r0", _ROUTE), ("delete", "HTTPRoute", "ns1", "r0"), ("tick",)])
# our status written back is recognised; one someone else changed is not taken for it
@example([("route", "ns1", "r0", _ROUTE), ("status",), ("clobber",), ("tick",), ("status",)])
def test_passes_with_a_memo_equal_the_full_rebuild(changes: list[tuple[Any, ...]]) -> None:
    world = World()
    memo = Memo()
    xds = Translator()
    last = translate(world.snapshot(), memo)
    for change in changes:
        _apply(world, change, last)
        snapshot = world.snapshot()
        last = translate(snapshot, memo)
        assert _canonical(last) == _canonical(translate(snapshot)), change
        for ir in last.gateways.values():
            assert _serialized(xds(ir)) == _serialized(xds_translate(ir)), change


def _canonical(result: Result) -> tuple[object, ...]:
    """A Result with its statuses by object (their order is not part of the contract)."""
    statuses = {(u.kind, u.namespace, u.name): u for u in result.statuses}
    assert len(statuses) == len(result.statuses)
    return statuses, result.gateways, result.infra


def _serialized(resources: XdsResources) -> tuple[object, ...]:
    return tuple((t, {n: m.SerializeToString(deterministic=True) for n, m in by_name.items()})
                 for t, by_name in sorted(resources.by_type.items()))


def test_an_unchanged_pass_reuses_every_route() -> None:
    world = World()
    world.put(_service("svc0", "ns1", 80, None))
    for i in range(3):
        world.put({"apiVersion": GW, "kind": "HTTPRoute",
                   "metadata": {"name": f"r{i}", "namespace": "ns1"},
                   "spec": {"parentRefs": [{"name": "gw"}],
                            "rules": [{"backendRefs": [{"name": "svc0", "port": 80}]}]}})
    memo = Memo()
    world.write_statuses(translate(world.snapshot(), memo))
    translate(world.snapshot(), memo)
    misses = memo.misses
    translate(world.snapshot(), memo)
    assert memo.misses == misses
