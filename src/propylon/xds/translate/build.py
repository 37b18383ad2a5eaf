"""`translate()`: one Gateway's IR -> its `XdsResources`.

Each IR object maps to exactly one Envoy resource of the same name (listener, route
configuration, cluster and its load assignment, secret), built by the module named for the
type; each IR virtual host is a VHDS resource of its own, named after its route table and first
domain (`routes.vhost_name`); the trust bundles of clusters reached over TLS are secrets too. Maps are filled in name
order, so the result, its serialisation and its per-type versions are a pure function of the IR.

`Translator` is the same function with memory, for the controller: per Gateway, a message built
in the last call from an equal IR object (the translator upstream reuses unchanged IR objects, so
this is mostly an identity check) is reused, virtual hosts with the clusters each sends traffic
to (`XdsResources.vhost_clusters`). Unchanged resources are therefore the very same objects from
one result to the next, which the xDS server uses to version only new messages.
Messages are shared between results and must not be mutated. The property test
`tests/translate/test_memo.py` checks it against `translate`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from google.protobuf.message import Message

from propylon.ir.model import GatewayIR, GatewayKey, RouteConfig, VirtualHost
from propylon.xds.translate.clusters import cluster, load_assignment
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.resources import XdsResources
from propylon.xds.translate.routes import (
    route_configuration,
    vhost_clusters,
    vhost_name,
    virtual_host,
)
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


class Reuse:
    """Messages built in the last call, by (builder, IR object name), with the IR object."""

    def __init__(self) -> None:
        self._old: dict[Hashable, tuple[Any, Any]] = {}
        self._live: dict[Hashable, tuple[Any, Any]] = {}

    def __call__(self, build: Callable[[In], R]) -> Callable[[In], R]:
        """`build`, reusing its last message for an equal IR object."""
        def reusing(item: In) -> R:
            key = (build, getattr(item, "name", None) or item)
            found = self._live.get(key) or self._old.pop(key, None)
            if found is None or not (found[0] is item or found[0] == item):
                found = (item, build(item))
            self._live[key] = found
            return found[1]  # type: ignore[no-any-return]
        return reusing

    def done(self) -> None:
        """Forget what the last call did not use."""
        self._old, self._live = self._live, {}


def _fresh(build: Callable[[In], R]) -> Callable[[In], R]:
    return build


@dataclass(frozen=True)
class _Placed:
    """An IR virtual host in the route table it is served in."""

    config: str
    vh: VirtualHost

    @property
    def name(self) -> str:
        return vhost_name(self.config, self.vh)


def _virtual_host(placed: _Placed) -> tuple[rc.VirtualHost, frozenset[str]]:
    message = virtual_host(placed.config, placed.vh)
    return message, vhost_clusters(message)


def _route_tables(configs: Iterable[RouteConfig], table: Callable[[str], RouteConfiguration],
                  vhost: Callable[[_Placed], tuple[rc.VirtualHost, frozenset[str]]],
                  ) -> tuple[dict[str, RouteConfiguration], dict[str, rc.VirtualHost],
                             dict[str, frozenset[str]]]:
    """Route tables by name; their virtual hosts by name, and the clusters each sends
    traffic to."""
    tables, vhosts, clusters = {}, {}, {}
    for config in sorted(configs, key=lambda c: c.name):
        tables[config.name] = table(config.name)
        for vh in config.virtual_hosts:
            placed = _Placed(config.name, vh)
            vhosts[placed.name], clusters[placed.name] = vhost(placed)
    return tables, dict(sorted(vhosts.items())), dict(sorted(clusters.items()))


def translate(ir: GatewayIR, reuse: Reuse | None = None) -> XdsResources:
    """The Envoy resources that make a proxy do what `ir` says."""
    memo = reuse if reuse is not None else _fresh
    routes, vhosts, used = _route_tables(ir.route_configs, memo(route_configuration),
                                          memo(_virtual_host))
    resources = XdsResources(
        listeners=_by_name(ir.listeners, memo(listener)),
        routes=routes,
        virtual_hosts=vhosts,
        clusters=_by_name(ir.clusters, memo(cluster)),
        endpoints=_by_name(ir.clusters, memo(load_assignment)),
        secrets=dict(sorted({
            **_by_name(ir.secrets, memo(secret)),
            **_by_name({c.tls.trust for c in ir.clusters if c.tls and c.tls.trust},
                       memo(trust_secret)),
        }.items())),
        vhost_clusters=used,
    )
    if reuse is not None:
        reuse.done()
    return resources


class Translator:
    """`translate` with one `Reuse` per Gateway (kept for as long as the translator)."""

    def __init__(self) -> None:
        self._reuse: dict[GatewayKey, Reuse] = {}

    def __call__(self, ir: GatewayIR) -> XdsResources:
        return translate(ir, self._reuse.setdefault(ir.key, Reuse()))
