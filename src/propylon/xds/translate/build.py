"""`translate()`: one Gateway's IR -> its `XdsResources`.

Each IR object maps to exactly one Envoy resource of the same name (listener, route
configuration, cluster and its load assignment, secret), built by the module named for the
type; the trust bundles of clusters reached over TLS are secrets too. Maps are filled in name
order, so the result, its serialisation and its per-type versions are a pure function of the IR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from google.protobuf.message import Message

from propylon.ir.model import GatewayIR
from propylon.xds.translate.clusters import cluster, load_assignment
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.resources import XdsResources
from propylon.xds.translate.routes import route_configuration
from propylon.xds.translate.secrets import secret
from propylon.xds.translate.upstream_tls import trust_secret

In = TypeVar("In")
Out = TypeVar("Out", bound=Message)


def _by_name(items: Iterable[In], build: Callable[[In], Out | None]) -> dict[str, Out]:
    built = (build(item) for item in items)
    named = {_name(m): m for m in built if m is not None}
    return dict(sorted(named.items()))


def _name(message: Message) -> str:
    name = getattr(message, "name", "") or getattr(message, "cluster_name", "")
    return str(name)


def translate(ir: GatewayIR) -> XdsResources:
    """The Envoy resources that make a proxy do what `ir` says."""
    return XdsResources(
        listeners=_by_name(ir.listeners, listener),
        routes=_by_name(ir.route_configs, route_configuration),
        clusters=_by_name(ir.clusters, cluster),
        endpoints=_by_name(ir.clusters, load_assignment),
        secrets=dict(sorted({
            **_by_name(ir.secrets, secret),
            **_by_name({c.tls.trust for c in ir.clusters if c.tls and c.tls.trust}, trust_secret),
        }.items())),
    )
