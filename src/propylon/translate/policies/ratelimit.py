"""Local rate limits of a Gateway's routes, once they have theirs: a ClientTrafficPolicy with
`headers.disableRateLimitHeaders` on a listener (port) turns off the x-ratelimit-* response
headers of the rate limits of that listener's routes."""

from __future__ import annotations

from dataclasses import replace

from propylon.ir.model import (
    GatewayIR,
    Route,
    RouteConfig,
    VirtualHost,
)
from propylon.translate.gateways import GatewayState
from propylon.translate.policies import client
from propylon.translate.policies.attachment import Attachments


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


def quieted(ir: GatewayIR, state: GatewayState, ctp: Attachments) -> GatewayIR:
    """`ir` with the rate-limit headers off where a ClientTrafficPolicy says so."""
    quiet: set[str] = set()
    for listener in ir.listeners:
        found = client.governing(ir, listener, state, ctp)
        if found is not None and not found.rate_limit_headers and listener.route_config:
            quiet.add(listener.route_config)
        for chain in listener.tls_chains:  # one per Gateway listener, each its own policy's
            found = client.chain_governing(ir, chain, state, ctp)
            if found is not None and not found.rate_limit_headers:
                quiet.add(chain.route_config)
    if not quiet:
        return ir
    tables = tuple(_without_headers(c) if c.name in quiet else c for c in ir.route_configs)
    if all(a is b for a, b in zip(tables, ir.route_configs, strict=True)):
        return ir
    return replace(ir, route_configs=tables)
