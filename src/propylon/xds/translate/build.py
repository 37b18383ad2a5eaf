"""`translate()`: one Gateway's IR -> its `XdsResources`.

Each IR object maps to exactly one Envoy resource of the same name (listener, route
configuration, cluster and its load assignment, secret), built by the module named for the
type; the trust bundles of clusters reached over TLS are secrets too. Maps are filled in name
order, so the result, its serialisation and its per-type versions are a pure function of the IR.

`Translator` is the same function with memory, for the controller: per Gateway, a message built
in the last call from an equal IR object (the translator upstream reuses unchanged IR objects, so
this is mostly an identity check) is reused, virtual host by virtual host within route tables,
with the clusters each virtual host sends traffic to (`XdsResources.route_clusters`).
Messages are shared between results and must not be mutated. The property test
`tests/translate/test_memo.py` checks it against `translate`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from google.protobuf.message import Message

from propylon.ir.model import GatewayIR, GatewayKey, RouteConfig, VirtualHost
from propylon.xds.translate.clusters import cluster, load_assignment
from propylon.xds.translate.listeners import listener
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


def _virtual_host(vh: VirtualHost) -> tuple[rc.VirtualHost, frozenset[str]]:
    message = virtual_host(vh)
    return message, vhost_clusters(message)


def _route_tables(configs: Iterable[RouteConfig],
                  vhost: Callable[[VirtualHost], tuple[rc.VirtualHost, frozenset[str]]],
                  ) -> tuple[dict[str, RouteConfiguration], dict[str, frozenset[str]]]:
    """Route tables by name, and the clusters each sends traffic to."""
    tables, clusters = {}, {}
    for config in sorted(configs, key=lambda c: c.name):
        built = {vh.name: vhost(vh) for vh in config.virtual_hosts}
        tables[config.name] = route_configuration(config, lambda vh: built[vh.name][0])
        clusters[config.name] = frozenset().union(*(names for _, names in built.values()))
    return tables, clusters


def translate(ir: GatewayIR, reuse: Reuse | None = None) -> XdsResources:
    """The Envoy resources that make a proxy do what `ir` says."""
    memo = reuse if reuse is not None else _fresh
    routes, route_clusters = _route_tables(ir.route_configs, memo(_virtual_host))
    resources = XdsResources(
        listeners=_by_name(ir.listeners, memo(listener)),
        routes=routes,
        clusters=_by_name(ir.clusters, memo(cluster)),
        endpoints=_by_name(ir.clusters, memo(load_assignment)),
        secrets=dict(sorted({
            **_by_name(ir.secrets, memo(secret)),
            **_by_name({c.tls.trust for c in ir.clusters if c.tls and c.tls.trust},
                       memo(trust_secret)),
        }.items())),
        route_clusters=route_clusters,
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
