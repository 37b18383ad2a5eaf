"""The compressor filters each listener's connection managers need.

Envoy's compressor filter is configured per connection manager and enabled per route, so a
listener carries one compressor per algorithm that some route it serves compresses with (the
first such route gives the filter its minimum content length, as Envoy Gateway does: a route
cannot override it). `with_compressors(ir, store)` sets `Listener.compressors`; a route table
seen in the last pass (the same object) costs nothing.
"""

from __future__ import annotations

from dataclasses import replace

from propylon.ir.model import Compression, GatewayIR, RouteConfig
from propylon.translate.types import Store


def with_compressors(ir: GatewayIR, store: Store | None) -> GatewayIR:
    """`ir` with each listener's compressors (see the module docstring)."""
    tables = {c.name: c for c in ir.route_configs}
    listeners = []
    for listener in ir.listeners:
        names = [listener.route_config] if listener.route_config else []
        names.extend(chain.route_config for chain in listener.tls_chains)
        found: dict[str, Compression] = {}
        for name in names:
            if name in tables:
                for compression in _used(tables[name], store):
                    found.setdefault(compression.type, compression)
        compressors = tuple(found.values())
        listeners.append(listener if compressors == listener.compressors
                         else replace(listener, compressors=compressors))
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))


def _used(config: RouteConfig, store: Store | None) -> tuple[Compression, ...]:
    """The compressions of `config`'s routes, first use of each algorithm first."""
    key = ("compressors", config.name)
    cached = store.get(key) if store is not None else None
    if cached is not None and cached[0] is config:
        return cached[1]  # type: ignore[no-any-return]
    found: dict[str, Compression] = {}
    for vhost in config.virtual_hosts:
        for route in vhost.routes:
            for compression in route.compression:
                found.setdefault(compression.type, compression)
    result = tuple(found.values())
    if store is not None:
        store.put(key, (config, result))
    return result
