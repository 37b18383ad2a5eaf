"""Local rate limits on a Gateway's listeners, once the routes have theirs.

Envoy's local rate limit filter is in a connection manager only when a route of its tables has
a rate limit (`LOCAL_RATE_LIMIT` in `Listener.http_filters`), as Envoy Gateway does; each such route configures
it for itself. A ClientTrafficPolicy with `headers.disableRateLimitHeaders` on a listener (port)
turns off the x-ratelimit-* response headers of the rate limits of that listener's routes.
"""

from __future__ import annotations

from dataclasses import replace

from propylon.ir.model import (
    LOCAL_RATE_LIMIT,
    GatewayIR,
    Listener,
    Route,
    RouteConfig,
    VirtualHost,
)
from propylon.translate.gateways import GatewayState
from propylon.translate.policies import client
from propylon.translate.policies.attachment import Attachments


def _tables(listener: Listener) -> tuple[str, ...]:
    return ((listener.route_config,) if listener.route_config else ()) + tuple(
        chain.route_config for chain in listener.tls_chains)


def _limited(config: RouteConfig) -> bool:
    return any(route.rate_limit is not None for vh in config.virtual_hosts for route in vh.routes)


def _without_headers(config: RouteConfig) -> RouteConfig:
    def route(r: Route) -> Route:
        if r.rate_limit is None or not r.rate_limit.headers:
            return r
        return replace(r, rate_limit=replace(r.rate_limit, headers=False))

    def vhost(vh: VirtualHost) -> VirtualHost:
        routes = tuple(route(r) for r in vh.routes)
        return vh if all(a is b for a, b in zip(routes, vh.routes, strict=True)) \
            else replace(vh, routes=routes)

    vhosts = tuple(vhost(vh) for vh in config.virtual_hosts)
    return config if all(a is b for a, b in zip(vhosts, config.virtual_hosts, strict=True)) \
        else replace(config, virtual_hosts=vhosts)


def marked(ir: GatewayIR, state: GatewayState, ctp: Attachments | None) -> GatewayIR:
    """`ir` with `LOCAL_RATE_LIMIT` in the `http_filters` of the listeners that need the
    filter, and the rate-limit headers off where a ClientTrafficPolicy says so."""
    configs = {c.name: c for c in ir.route_configs}
    quiet: set[str] = set()
    if ctp is not None and ctp.attached:
        for listener in ir.listeners:
            found = client.settings(ir, listener, state, ctp)
            if found is not None and not found.rate_limit_headers:
                quiet.update(_tables(listener))
    for name in quiet & configs.keys():
        configs[name] = _without_headers(configs[name])
    limited = {name for name, config in configs.items() if _limited(config)}
    listeners = tuple(
        replace(li, http_filters=filters) if li.http_filters != filters else li
        for li in ir.listeners
        for filters in [tuple(sorted({*li.http_filters, LOCAL_RATE_LIMIT}))
                        if limited.intersection(_tables(li))
                        else tuple(f for f in li.http_filters if f != LOCAL_RATE_LIMIT)])
    tables = tuple(configs[c.name] for c in ir.route_configs)
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)) \
            and all(a is b for a, b in zip(tables, ir.route_configs, strict=True)):
        return ir
    return replace(ir, listeners=listeners, route_configs=tables)
