"""Cluster IPs of Services: the lowest free address of 10.96.0.0/16, `.1` kept back.

`ClusterIPs(load)` learns the addresses in use from `load()` (the stored Services) on first use
and then follows the registry's writes: `hold(service)` when a Service is stored, `release(service)`
when one is removed. An allocation therefore no longer reads and decodes every stored Service
(at 500 Services that made creating them quadratic: a seventh of a bulk apply). `allocate()`
returns the lowest free address without taking it: the registry stores the Service (and so holds
the address) under its write lock, and a Service that fails validation takes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from propylon.apiserver.errors import APIError

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
_FIRST = int(SERVICE_CIDR.network_address) + 2  # .0 is the network, .1 is kept back
_LAST = int(SERVICE_CIDR.broadcast_address) - 1


def _address(service: dict[str, Any]) -> int | None:
    ip = (service.get("spec") or {}).get("clusterIP")
    try:
        number = int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return None  # none yet, "None" (headless), or not an IPv4 address
    return number if number in range(_FIRST, _LAST + 1) else None


class ClusterIPs:
    """The cluster IPs in use; see the module docstring."""

    def __init__(self, load: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self._load = load
        self._used: set[int] | None = None
        self._lowest_free = _FIRST  # no address below this one is free

    def _in_use(self) -> set[int]:
        if self._used is None:
            self._used = {n for s in self._load() if (n := _address(s)) is not None}
        return self._used

    def allocate(self) -> str:
        used, number = self._in_use(), self._lowest_free
        while number in used:
            number += 1
        if number > _LAST:
            raise APIError(500, "InternalError", f"the service IP range {SERVICE_CIDR} is full")
        self._lowest_free = number
        return str(ipaddress.IPv4Address(number))

    def hold(self, service: dict[str, Any]) -> None:
        if self._used is not None and (number := _address(service)) is not None:
            self._used.add(number)

    def release(self, service: dict[str, Any]) -> None:
        if self._used is not None and (number := _address(service)) is not None:
            self._used.discard(number)
            self._lowest_free = min(self._lowest_free, number)
