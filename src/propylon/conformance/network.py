"""Loopback ranges of one conformance run, so that several runs can share one host.

A run owns a *slot* N (2..254) and every loopback address it uses lies in 127.N.0.0/16:
- the Gateway address pool 127.N.10.1-127.N.10.254 (the standalone stack's `address_pool`);
- the usable static address 127.N.10.200 that replaces `PLACEHOLDER_USABLE_ADDRS`;
- the echo pods' IPs in 127.N.128.0/17;
- outside loopback, the client address 172.31.N.1 that cases needing a client in a given
  network send from (`sourceaddress`).
127.0.x and 127.1.x stay free for `propylon up` (pool 127.0.10.x) and the tests.

`claim(slot)` takes the given slot, or the lowest free one, and holds an exclusive `flock` on
`<tmp>/propylon-conformance-slots/<N>.lock` until `release()`; another run asking for a held
slot explicitly fails with a message, an automatic claim moves on to the next slot. The lock
dies with the process, so a crashed run frees its slot. A process the lock does not cover (a
backend left behind by a killed run, anything else) may still hold addresses of a slot: an
automatic claim also passes over a slot where a socket listens or is bound in 127.N.0.0/16, as
the kernel lists them in `/proc/net/{tcp,udp}`, and an explicit one refuses it, naming the
address.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIRST_SLOT, LAST_SLOT = 2, 254
UNUSABLE_ADDRESS = "192.0.2.1"  # TEST-NET-1: never a loopback address, so never servable


class SlotTaken(Exception):
    """The requested slot is held by another run, or every slot is."""


@dataclass(frozen=True)
class RunNetwork:
    slot: int

    @property
    def address_pool(self) -> str:
        return f"127.{self.slot}.10.1-127.{self.slot}.10.254"

    @property
    def usable_address(self) -> str:
        return f"127.{self.slot}.10.200"

    @property
    def pod_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"127.{self.slot}.128.0/17")

    @property
    def client_address(self) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(f"172.31.{self.slot}.1")


@dataclass
class Claim:
    network: RunNetwork
    _fd: int

    def release(self) -> None:
        os.close(self._fd)  # closing the descriptor drops the flock


def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "propylon-conformance-slots"
    path.mkdir(exist_ok=True)
    return path


def _try_lock(slot: int, lock_dir: Path) -> int | None:
    fd = os.open(lock_dir / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


TCP_LISTEN, UDP_BOUND = "0A", "07"
PROC_NET = (("tcp", TCP_LISTEN), ("udp", UDP_BOUND))


def bound_loopback(proc_net: Path = Path("/proc/net")) -> set[ipaddress.IPv4Address]:
    """The IPv4 addresses on which a TCP socket listens or a UDP socket is bound (a
    `local_address` column in /proc/net/tcp and udp is `HEXIP:HEXPORT`, the IP's bytes in host
    order, which is little-endian on every machine Propylon runs on)."""
    found = set()
    for name, state in PROC_NET:
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == state:
                found.add(ipaddress.IPv4Address(bytes.fromhex(fields[1].split(":")[0])[::-1]))
    return found


def _holder(slot: int, bound: set[ipaddress.IPv4Address]) -> ipaddress.IPv4Address | None:
    """An address of the slot's range some socket holds, if any."""
    network = ipaddress.IPv4Network(f"127.{slot}.0.0/16")
    return next((address for address in sorted(bound) if address in network), None)


def claim(slot: int | None = None, lock_dir: Path | None = None,
          proc_net: Path = Path("/proc/net")) -> Claim:
    """Hold `slot` (or the lowest free one) for this run."""
    lock_dir = lock_dir or _lock_dir()
    bound = bound_loopback(proc_net)
    if slot is not None:
        if not FIRST_SLOT <= slot <= LAST_SLOT:
            raise SlotTaken(f"slot {slot} is outside {FIRST_SLOT}..{LAST_SLOT}")
        fd = _try_lock(slot, lock_dir)
        if fd is None:
            raise SlotTaken(f"slot {slot} (127.{slot}.0.0/16) is used by another conformance "
                            "run; pick another --slot or leave it out to get a free one")
        holder = _holder(slot, bound)
        if holder is not None:
            os.close(fd)
            raise SlotTaken(f"slot {slot}: a process outside any conformance run holds a socket "
                            f"on {holder} (see `ss -ltnup`); stop it, or pick another --slot")
        return Claim(RunNetwork(slot), fd)
    for candidate in range(FIRST_SLOT, LAST_SLOT + 1):
        if _holder(candidate, bound) is not None:
            continue
        fd = _try_lock(candidate, lock_dir)
        if fd is not None:
            return Claim(RunNetwork(candidate), fd)
    raise SlotTaken(f"all slots {FIRST_SLOT}..{LAST_SLOT} are used by other conformance runs")
