"""Hostname matching between listeners and routes, with wildcards.

A wildcard `*.example.com` matches any hostname with at least one more label in front
(`a.example.com`, `a.b.example.com`) but not `example.com` itself. `intersect(listener, route)`
is the hostname a route serves through a listener (None when they do not overlap): the more
specific of the two when one matches the other.
"""

from __future__ import annotations


def matches(pattern: str, hostname: str) -> bool:
    """Does `pattern` (exact or `*.suffix`) cover `hostname` (exact or wildcard)?"""
    if pattern == hostname:
        return True
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return hostname.endswith(suffix) and len(hostname) > len(suffix)
    return False


def intersect(listener: str | None, route: str) -> str | None:
    if listener is None:
        return route
    if matches(listener, route):
        return route
    if matches(route, listener):
        return listener
    return None


def route_hostnames(listener: str | None, route_hosts: tuple[str, ...]) -> tuple[str, ...]:
    """The hostnames a route serves through a listener; `()` when none overlap. A route without
    hostnames takes the listener's (or `*` when the listener has none)."""
    if not route_hosts:
        return (listener or "*",)
    out = [h for h in (intersect(listener, r) for r in route_hosts) if h is not None]
    return tuple(dict.fromkeys(out))


def specificity(hostname: str | None) -> tuple[int, int]:
    """Sort key: exact hostnames first, then wildcards by length, then no hostname."""
    if hostname is None or hostname == "*":
        return (2, 0)
    if hostname.startswith("*."):
        return (1, -len(hostname))
    return (0, -len(hostname))
