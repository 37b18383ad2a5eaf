"""Bind probing: can Envoy bind this listener port on this Gateway's address?

Before a port is handed to Envoy, `resolve_port` binds a socket of each transport its listeners
use (TCP; UDP for UDP listeners, which may share the port number with TCP ones) to address:port
with SO_REUSEADDR (as Envoy's listeners do, so TIME_WAIT leftovers do not count) and closes it:
- success -> `PortState(port, bind_port=port)`;
- EACCES on a port below 1024 (not root, no CAP_NET_BIND_SERVICE) with a non-zero privileged
  port offset -> the port is mapped to port + offset (80 -> 10080), probed the same way, and
  reported as `PortState(80, bind_port=10080)`;
- any other failure -> `PortState(port, None, error=...)`, the error naming the socket, the
  cause and the fix.
The bind function is a parameter so that tests can simulate failures a root user never sees.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable

from propylon.ir.model import PortState

BindProbe = Callable[[str, int, str], None]
"""Binds address:port for a transport ("TCP" or "UDP") and releases it at once; raises OSError
when that is impossible."""


def probe_bind(address: str, port: int, transport: str = "TCP") -> None:
    """Bind a TCP (or UDP) socket to address:port, then close it; OSError if the bind fails."""
    kind = socket.SOCK_DGRAM if transport == "UDP" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))


def _probe_all(probe: BindProbe, address: str, port: int, transports: tuple[str, ...]) -> None:
    for transport in transports:
        probe(address, port, transport)


def bind_error(address: str, port: int, error: OSError) -> str:
    """A message saying why address:port cannot be bound and what to do about it."""
    where = f"cannot bind {address}:{port}"
    if error.errno == errno.EADDRINUSE:
        return f"{where}: address already in use; free the port or change the listener's port"
    if error.errno == errno.EACCES:
        return (
            f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); "
            "grant the capability, enable the privileged port offset, or change the listener's port"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{where}: the address is not configured on this host; add it to the loopback "
            f"interface (Linux: ip addr add {address}/8 dev lo; macOS: ifconfig lo0 alias "
            f"{address}) or use another address"
        )
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error))
    return f"{where}: {reason.lower()}; free the port or change the listener's port"


def resolve_port(
    address: str, port: int, privileged_port_offset: int, probe: BindProbe = probe_bind,
    transports: tuple[str, ...] = ("TCP",),
) -> PortState:
    """Where Envoy can serve listener `port` on `address` for `transports`, or why it cannot."""
    try:
        _probe_all(probe, address, port, transports)
        return PortState(port, port)
    except OSError as error:
        if not (error.errno == errno.EACCES and port < 1024 and privileged_port_offset > 0):
            return PortState(port, None, bind_error(address, port, error))
    mapped = port + privileged_port_offset
    if mapped > 65535:
        return PortState(port, None, (
            f"cannot bind {address}:{port} (permission denied) and the mapped port {mapped} "
            "exceeds 65535; lower the privileged port offset or change the listener's port"
        ))
    try:
        _probe_all(probe, address, mapped, transports)
        return PortState(port, mapped)
    except OSError as error:
        return PortState(port, None, (
            f"{bind_error(address, mapped, error)} (port {port} was mapped to {mapped} because "
            "this user may not bind ports below 1024)"
        ))
