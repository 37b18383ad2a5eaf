"""The per-route HTTP filters each listener's connection managers need.

Envoy's compressor and custom response filters are configured per connection manager and
enabled per route, so a listener carries them only when some route it serves uses them: one
compressor per algorithm (the first such route gives the filter its minimum content length,
as Envoy Gateway does: a route cannot override it), and the custom response filter when a
route overrides responses. `with_filters(ir, store)` sets `Listener.compressors` and
`Listener.route_filters`; a route table seen in the last pass (the same object) costs
nothing.
"""

from __future__ import annotations

from dataclasses import replace

from propylon.ir.model import Compression, GatewayIR, RouteConfig
from propylon.translate.types import Store

CUSTOM_RESPONSE = "custom_response"
Used = tuple[tuple[Compression, ...], bool]  # compressors, custom responses


def with_filters(ir: GatewayIR, store: Store | None) -> GatewayIR:
    """`ir` with each listener's filters (see the module docstring)."""
    tables = {c.name: c for c in ir.route_configs}
    listeners = []
    for listener in ir.listeners:
        names = [listener.route_config] if listener.route_config else []
        names.extend(chain.route_config for chain in listener.tls_chains)
        found: dict[str, Compression] = {}
        custom = False
        for name in names:
            if name in tables:
                compressions, overrides = _used(tables[name], store)
                custom = custom or overrides
                for compression in compressions:
                    found.setdefault(compression.type, compression)
        compressors = tuple(found.values())
        filters = (CUSTOM_RESPONSE,) if custom else ()
        listeners.append(listener if (compressors, filters) == (listener.compressors,
                                                                listener.route_filters)
                         else replace(listener, compressors=compressors,
                                      route_filters=filters))
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))


def _used(config: RouteConfig, store: Store | None) -> Used:
    """The compressions of `config`'s routes (first use of each algorithm first), and whether
    one overrides responses."""
    key = ("listener filters", config.name)
    cached = store.get(key) if store is not None else None
    if cached is not None and cached[0] is config:
        return cached[1]  # type: ignore[no-any-return]
    found: dict[str, Compression] = {}
    custom = False
    for vhost in config.virtual_hosts:
        for route in vhost.routes:
            custom = custom or bool(route.response_overrides)
            for compression in route.compression:
                found.setdefault(compression.type, compression)
    result = (tuple(found.values()), custom)
    if store is not None:
        store.put(key, (config, result))
    return result
