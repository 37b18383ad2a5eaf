"""The loopback address pool: the standalone analogue of MetalLB's address pool.

Every Gateway gets one IPv4 address in 127.0.0.0/8, so that all Gateways can listen on the same
ports (80, 443) side by side. The allocation is a JSON object `{"namespace/name": "127.0.10.3"}`
in one file, rewritten atomically on every change, so a Gateway keeps its address across control
plane restarts.

`assign(key, requested)` decides a Gateway's address:
- without requested addresses: the address it already has if that is inside the pool, else the
  lowest pool address no other Gateway holds;
- with requested addresses (`spec.addresses`): every one must be usable, because the Gateway API
  says a Gateway whose requested addresses cannot all be assigned is not programmed. Usable means
  an IPv4 address inside 127.0.0.0/8 that no other Gateway holds. Standalone Propylon serves one
  address per Gateway, so more than one requested address is refused too.
A refusal returns no address and a message naming the address, the reason and the fix; a
refusal of requested addresses is marked `unusable` (the Gateway's AddressNotUsable).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from propylon.ir.model import GatewayKey

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


@dataclass(frozen=True)
class Assignment:
    """The outcome of `AddressPool.assign`: an address, or None and why not."""

    address: str | None
    message: str = ""
    unusable: bool = False  # the requested addresses cannot be served


def parse_pool(pool: str) -> list[ipaddress.IPv4Address]:
    """`127.0.10.1-127.0.10.254` or `127.0.10.0/24` -> the addresses, checked to be loopback."""
    try:
        if "-" in pool:
            first_text, last_text = (part.strip() for part in pool.split("-", 1))
            first, last = ipaddress.IPv4Address(first_text), ipaddress.IPv4Address(last_text)
            addresses = [ipaddress.IPv4Address(i) for i in range(int(first), int(last) + 1)]
        else:
            network = ipaddress.IPv4Network(pool.strip(), strict=False)
            addresses = list(network.hosts()) if network.num_addresses > 2 else list(network)
    except ValueError as error:
        raise ValueError(
            f"address pool {pool!r} is not valid ({error}); write FIRST-LAST such as "
            "127.0.10.1-127.0.10.254, or a CIDR such as 127.0.10.0/24"
        ) from error
    if not addresses:
        raise ValueError(f"address pool {pool!r} is empty; its first address must not exceed its last")
    outside = [a for a in (addresses[0], addresses[-1]) if a not in LOOPBACK]
    if outside:
        raise ValueError(
            f"address pool {pool!r} contains {outside[0]}, which is not a loopback address; "
            "standalone Propylon can only serve 127.0.0.0/8"
        )
    return addresses


class AddressPool:
    """Assigns and persists one loopback address per Gateway."""

    def __init__(self, pool: str, path: Path) -> None:
        self._pool_text = pool
        self._pool = parse_pool(pool)
        self._pool_set = set(self._pool)
        self._path = path
        self._assigned: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ValueError(
                f"address allocation file {self._path} is unreadable ({error}); fix or delete it "
                "(Gateways may then get new addresses)"
            ) from error
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError(
                f"address allocation file {self._path} is not a JSON object of "
                '"namespace/name": "address"; fix or delete it'
            )
        return data

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(sorted(self._assigned.items())), indent=1) + "\n")
        os.replace(tmp, self._path)

    def assigned(self) -> dict[str, str]:
        """A copy of the persisted allocation, `namespace/name` -> address."""
        return dict(self._assigned)

    def _holder(self, address: str, key: GatewayKey) -> str | None:
        for other, held in self._assigned.items():
            if held == address and other != str(key):
                return other
        return None

    def _set(self, key: GatewayKey, address: str) -> Assignment:
        if self._assigned.get(str(key)) != address:
            self._assigned[str(key)] = address
            self._save()
        return Assignment(address)

    def assign(self, key: GatewayKey, requested: tuple[str, ...] = ()) -> Assignment:
        """The address Gateway `key` serves on, persisted, or None with the reason."""
        if requested:
            return self._assign_requested(key, requested)
        current = self._assigned.get(str(key))
        if current is not None and ipaddress.IPv4Address(current) in self._pool_set:
            return Assignment(current)
        taken = set(self._assigned.values())
        for candidate in self._pool:
            if str(candidate) not in taken:
                return self._set(key, str(candidate))
        self.release(key)
        return Assignment(
            None,
            f"the address pool {self._pool_text} is exhausted ({len(self._pool)} addresses, all "
            "held by other Gateways); widen the pool or delete Gateways that are no longer used",
        )

    def _assign_requested(self, key: GatewayKey, requested: tuple[str, ...]) -> Assignment:
        for text in requested:
            refusal = self._refusal(key, text)
            if refusal:
                return Assignment(None, refusal, unusable=True)
        if len(requested) > 1:
            return Assignment(
                None,
                f"spec.addresses requests {len(requested)} addresses ({', '.join(requested)}); "
                "standalone Propylon serves one address per Gateway; keep only one",
                unusable=True,
            )
        return self._set(key, str(ipaddress.IPv4Address(requested[0])))

    def _refusal(self, key: GatewayKey, text: str) -> str:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return (
                f"requested address {text!r} is not an IP address; standalone Propylon can only "
                "serve IP addresses in 127.0.0.0/8; request one such as 127.0.10.200 or remove "
                "spec.addresses to get one from the pool"
            )
        if not isinstance(address, ipaddress.IPv4Address) or address not in LOOPBACK:
            return (
                f"requested address {text} is not a loopback address; standalone Propylon can "
                "only serve 127.0.0.0/8; request an address such as 127.0.10.200 or remove "
                "spec.addresses to get one from the pool"
            )
        holder = self._holder(str(address), key)
        if holder is not None:
            return (
                f"requested address {text} is already assigned to Gateway {holder}; request "
                "another address or remove spec.addresses to get one from the pool"
            )
        return ""

    def release(self, key: GatewayKey) -> None:
        """Forget Gateway `key`'s address, making it free for others."""
        if self._assigned.pop(str(key), None) is not None:
            self._save()
