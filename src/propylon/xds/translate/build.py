"""`translate()`: one Gateway's IR -> its `XdsResources`.

Each IR object maps to exactly one Envoy resource of the same name (listener, route
configuration, cluster and its load assignment, secret), built by the module named for the
type; each IR virtual host is a VHDS resource of its own, named after its route table and first
domain (`routes.vhost_name`); the trust bundles of clusters reached over TLS are secrets too.
Maps are filled in name order, so the result and its serialisation are a pure function of the
IR. A listener is built from its IR object and what the routes of its tables ask of the HTTP
filters (`httpfilters.route_uses`, kept per virtual host, united per table), so its connection
managers carry only the filters used.

`Translator` is the same function with memory, for the controller: per Gateway, a message built
in the last call from an equal IR object (the translator upstream reuses unchanged IR objects, so
this is mostly an identity check) is reused; virtual hosts are looked up per route table and IR
name in one loop (thousands per table), with the clusters each sends traffic to
(`XdsResources.vhost_clusters`); the clusters and endpoints maps are last call's very objects
while the IR's clusters are the same objects (`Reuse.listed`). Unchanged resources are therefore the very same objects from
one result to the next, which the xDS server uses to version only new messages (2.5 ms for a
one-route change at 5,000 routes in 500 virtual hosts). Messages are shared between results and
must not be mutated. The property test `tests/translate/test_memo.py` checks it against
`translate`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from envoy.config.listener.v3.listener_pb2 import Listener as EnvoyListener
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from google.protobuf.message import Message

from propylon.ir.model import GatewayIR, GatewayKey, Listener, RouteConfig, VirtualHost
from propylon.xds.translate import httpfilters
from propylon.xds.translate.clusters import cluster, load_assignment
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.patches import patched
from propylon.xds.translate.resources import XdsResources
from propylon.xds.translate.routes import route_configuration, vhost_clusters, virtual_host
from propylon.xds.translate.secrets import secret
from propylon.xds.translate.upstream_tls import trust_secret

In = TypeVar("In")
Out = TypeVar("Out", bound=Message)
R = TypeVar("R")


def _by_name(items: Iterable[In], build: Callable[[In], Out | None]) -> dict[str, Out]:
    built = (build(item) for item in items)
    named = {_name(m): m for m in built if m is not None}
    return dict(sorted(named.items()))


def _name(message: Message) -> str:
    name = getattr(message, "name", "") or getattr(message, "cluster_name", "")
    return str(name)


def _item_key(item: Any) -> Hashable:
    """An IR object's identity across calls: its name, or the object itself."""
    key: Hashable = getattr(item, "name", None) or item
    return key


# IR, message, clusters it uses, what its routes ask of the HTTP filters
Built = tuple[VirtualHost, rc.VirtualHost, frozenset[str], httpfilters.Uses]


def _virtual_host(config: str, vh: VirtualHost) -> Built:
    message = virtual_host(config, vh)
    return vh, message, vhost_clusters(message), httpfilters.route_uses(vh.routes)


@dataclass(frozen=True)
class _ListenerInput:
    """An IR listener with what the routes of its tables ask of the HTTP filters."""

    listener: Listener
    uses: tuple[tuple[str, httpfilters.Uses], ...]  # by route table name

    @property
    def name(self) -> str:
        return self.listener.name


def _listener(item: _ListenerInput) -> EnvoyListener | None:
    return listener(item.listener, dict(item.uses))


def _listener_inputs(listeners: Iterable[Listener],
                     uses: dict[str, httpfilters.Uses]) -> list[_ListenerInput]:
    out = []
    for li in listeners:
        configs = [li.route_config] + [chain.route_config for chain in li.tls_chains]
        out.append(_ListenerInput(li, tuple((c, uses[c]) for c in configs
                                            if c is not None and uses.get(c))))
    return out


class Reuse:
    """Messages built in the last call, by (builder, IR object name), with the IR object; and
    virtual hosts by route table and IR name (a table's hosts are looked up in one loop, since
    there may be thousands)."""

    def __init__(self) -> None:
        self._old: dict[Hashable, tuple[Any, Any]] = {}
        self._live: dict[Hashable, tuple[Any, Any]] = {}
        self._old_hosts: dict[str, dict[str, Built]] = {}
        self._live_hosts: dict[str, dict[str, Built]] = {}
        # by builder: the items of the last `listed` call, its result, its messages by name
        self._lists: dict[Callable[..., Any], tuple[Any, Any, Any]] = {}
        self._live_lists: dict[Callable[..., Any], tuple[Any, Any, Any]] = {}

    def __call__(self, build: Callable[[In], R]) -> Callable[[In], R]:
        """`build`, reusing its last message for an equal IR object."""
        def reusing(item: In) -> R:
            key = (build, _item_key(item))
            found = self._live.get(key) or self._old.pop(key, None)
            if found is None or not (found[0] is item or found[0] == item):
                found = (item, build(item))
            self._live[key] = found
            return found[1]
        return reusing

    def listed(self, build: Callable[[In], Out | None], items: tuple[In, ...]) -> dict[str, Out]:
        """`_by_name(items, build)` reusing each message of an equal item, and the very same
        dict while `items` are the same objects as last call's (checked in C: a Gateway's
        hundreds of clusters cost nothing while none changed)."""
        last = self._lists.get(build)
        if last is not None and len(last[0]) == len(items) \
                and all(map(operator.is_, last[0], items)):
            self._live_lists[build] = last
            return last[1]  # type: ignore[no-any-return]
        old: dict[Hashable, tuple[Any, Any]] = last[2] if last is not None else {}
        kept: dict[Hashable, tuple[Any, Any]] = {}

        def one(item: In) -> Out | None:
            key = _item_key(item)
            found = old.get(key)
            if found is None or not (found[0] is item or found[0] == item):
                found = (item, build(item))
            kept[key] = found
            return found[1]

        result: dict[str, Out] = _by_name(items, one)
        self._live_lists[build] = (items, result, kept)
        return result

    def virtual_hosts(self, config: RouteConfig) -> Iterable[Built]:
        """The virtual hosts of `config`, reusing the last messages of equal IR hosts."""
        old = self._old_hosts.get(config.name, {})
        hosts: dict[str, Built] = {}
        for vh in config.virtual_hosts:
            found = old.get(vh.name)
            if found is None or not (found[0] is vh or found[0] == vh):
                found = _virtual_host(config.name, vh)
            hosts[vh.name] = found
        self._live_hosts[config.name] = hosts
        return hosts.values()

    def done(self) -> None:
        """Forget what the last call did not use."""
        self._old, self._live = self._live, {}
        self._old_hosts, self._live_hosts = self._live_hosts, {}
        self._lists, self._live_lists = self._live_lists, {}


def _fresh(build: Callable[[In], R]) -> Callable[[In], R]:
    return build


def _listed(build: Callable[[In], Out | None], items: tuple[In, ...]) -> dict[str, Out]:
    return _by_name(items, build)


def _fresh_hosts(config: RouteConfig) -> Iterable[Built]:
    return (_virtual_host(config.name, vh) for vh in config.virtual_hosts)


def _route_tables(configs: Iterable[RouteConfig], table: Callable[[str], RouteConfiguration],
                  hosts: Callable[[RouteConfig], Iterable[Built]],
                  ) -> tuple[dict[str, RouteConfiguration], dict[str, rc.VirtualHost],
                             dict[str, frozenset[str]], dict[str, httpfilters.Uses]]:
    """Route tables by name; their virtual hosts by name, and the clusters each sends
    traffic to; what each table's routes ask of the HTTP filters."""
    tables, vhosts, clusters, uses = {}, {}, {}, {}
    for config in sorted(configs, key=lambda c: c.name):
        tables[config.name] = table(config.name)
        table_uses: set[tuple[str, Hashable]] = set()
        for _, message, used, filters in hosts(config):
            vhosts[message.name], clusters[message.name] = message, used
            if filters:
                table_uses |= filters
        uses[config.name] = frozenset(table_uses)
    return tables, dict(sorted(vhosts.items())), dict(sorted(clusters.items())), uses


def translate(ir: GatewayIR, reuse: Reuse | None = None) -> XdsResources:
    """The Envoy resources that make a proxy do what `ir` says."""
    memo = reuse if reuse is not None else _fresh
    hosts = reuse.virtual_hosts if reuse is not None else _fresh_hosts
    listed = reuse.listed if reuse is not None else _listed
    routes, vhosts, used, uses = _route_tables(ir.route_configs, memo(route_configuration),
                                               hosts)
    resources = XdsResources(
        listeners=_by_name(_listener_inputs(ir.listeners, uses), memo(_listener)),
        routes=routes,
        virtual_hosts=vhosts,
        clusters=listed(cluster, ir.clusters),
        endpoints=listed(load_assignment, ir.clusters),
        secrets=dict(sorted({
            **_by_name(ir.secrets, memo(secret)),
            **_by_name({c.tls.trust for c in ir.clusters if c.tls and c.tls.trust},
                       memo(trust_secret)),
        }.items())),
        vhost_clusters=used,
    )
    if reuse is not None:
        reuse.done()
    return patched(resources, ir.patches) if ir.patches else resources


class Translator:
    """`translate` with one `Reuse` per Gateway (kept for as long as the translator)."""

    def __init__(self) -> None:
        self._reuse: dict[GatewayKey, Reuse] = {}

    def __call__(self, ir: GatewayIR) -> XdsResources:
        return translate(ir, self._reuse.setdefault(ir.key, Reuse()))
