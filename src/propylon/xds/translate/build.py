"""`translate()`: one Gateway's IR -> its `XdsResources`.

Each IR object maps to exactly one Envoy resource of the same name (listener, route
configuration, cluster and its load assignment, secret), built by the module named for the
type; the trust bundles of clusters reached over TLS are secrets too. Maps are filled in name
order, so the result, its serialisation and its per-type versions are a pure function of the IR.

`Translator` is the same function with memory, for the controller: per Gateway, a message built
in the last call from an equal IR object (the translator upstream reuses unchanged IR objects, so
this is mostly an identity check) is reused, virtual host by virtual host within route tables.
Messages are shared between results and must not be mutated. The property test
`tests/translate/test_memo.py` checks it against `translate`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from google.protobuf.message import Message

from propylon.ir.model import GatewayIR, GatewayKey
from propylon.xds.translate.clusters import cluster, load_assignment
from propylon.xds.translate.listeners import listener
from propylon.xds.translate.resources import XdsResources
from propylon.xds.translate.routes import route_configuration, virtual_host
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


class Reuse:
    """Messages built in the last call, by (builder, IR object name), with the IR object."""

    def __init__(self) -> None:
        self._old: dict[Hashable, tuple[Any, Any]] = {}
        self._live: dict[Hashable, tuple[Any, Any]] = {}

    def __call__(self, build: Callable[[In], Out | None]) -> Callable[[In], Out | None]:
        """`build`, reusing its last message for an equal IR object."""
        def reusing(item: In) -> Out | None:
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


def _fresh(build: Callable[[In], Out | None]) -> Callable[[In], Out | None]:
    return build


def translate(ir: GatewayIR, reuse: Reuse | None = None) -> XdsResources:
    """The Envoy resources that make a proxy do what `ir` says."""
    memo = reuse if reuse is not None else _fresh
    vhost = memo(virtual_host)
    resources = XdsResources(
        listeners=_by_name(ir.listeners, memo(listener)),
        routes=_by_name(ir.route_configs, lambda rc: route_configuration(rc, vhost)),
        clusters=_by_name(ir.clusters, memo(cluster)),
        endpoints=_by_name(ir.clusters, memo(load_assignment)),
        secrets=dict(sorted({
            **_by_name(ir.secrets, memo(secret)),
            **_by_name({c.tls.trust for c in ir.clusters if c.tls and c.tls.trust},
                       memo(trust_secret)),
        }.items())),
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
