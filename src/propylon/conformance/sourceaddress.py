"""A client source address outside loopback, for the cases whose test client must come from a
given network (`supplements.CLIENT_NETWORKS`).

The runner plays the cluster network on loopback (`network`), so its requests come from
127.0.0.1; a few of Envoy Gateway's cases rely on the test client's own address lying in a
network the policy trusts (172.0.0.0/8 in its CI, the kind docker network). `ClientAlias`
adds one /32 address on `lo` for the run, `RunNetwork.client_address` (172.31.<slot>.1, so that
runs in different slots never share it), the first time a case asks for it (`ip address add`,
which needs CAP_NET_ADMIN), and removes it in `remove()`, which the run calls on its way out
(also when SIGTERM or Ctrl-C cancel it). A connection bound to that address reaches the
Gateway's 127.N.10.x address over `lo` and Envoy sees it as the peer. When the address cannot be
added, `acquire` returns the reason and the case is skipped with it, never passed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass, field

LOOPBACK_DEVICE = "lo"


@dataclass
class ClientAlias:
    address: ipaddress.IPv4Address
    _added: bool = False
    _failure: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # a case's requests run at once

    def _where(self, verb: str) -> tuple[str, ...]:
        return ("dev", LOOPBACK_DEVICE, "to" if verb == "show" else "local",
                f"{self.address}/32")

    async def _ip(self, verb: str) -> tuple[str | None, str]:
        """Run `ip -o address VERB` for the address on `lo`: (its output, "") or (None, its
        error)."""
        tool = shutil.which("ip")
        if tool is None:
            return None, "the `ip` command (iproute2) is not installed"
        proc = await asyncio.create_subprocess_exec(
            tool, "-o", "address", verb, *self._where(verb),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            return None, err.decode(errors="replace").strip()
        return out.decode(errors="replace"), ""

    async def _add(self) -> str | None:
        """Add the address (or take over the one a killed run of this slot left: the slot is
        this run's); the reason when it cannot."""
        present, _ = await self._ip("show")
        if not present:
            added, error = await self._ip("add")
            if added is None:
                return (f"cannot add the client address {self.address}/32 on "
                        f"{LOOPBACK_DEVICE} (needs CAP_NET_ADMIN): {error}")
        self._added = True
        return None

    async def acquire(self, network: ipaddress.IPv4Network) -> tuple[str | None, str]:
        """(the source address, "") once it is on `lo`, or (None, why it cannot be)."""
        if self.address not in network:
            return None, f"the run's client address {self.address} is not in {network}"
        async with self._lock:
            if not self._added and self._failure is None:
                self._failure = await self._add()
        if self._failure is not None:
            return None, self._failure
        return str(self.address), ""

    def remove(self) -> None:
        """Delete the address if this run added it: a blocking call, so that a run being
        cancelled (SIGTERM, Ctrl-C) cannot interrupt it."""
        tool = shutil.which("ip")
        if self._added and tool is not None:
            self._added = False
            subprocess.run([tool, "address", "delete", *self._where("delete")],
                           capture_output=True, check=False)
