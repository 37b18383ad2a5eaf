"""Bind probing: privileged port mapping and clear errors for ports that cannot be bound."""

from __future__ import annotations

import errno
import socket

from propylon.infra.host.ports import resolve_port
from propylon.ir.model import PortState


def _unprivileged(address: str, port: int, transport: str = "TCP") -> None:
    """Behaves like a non-root user without CAP_NET_BIND_SERVICE."""
    if port < 1024:
        raise PermissionError(errno.EACCES, "Permission denied")


def test_privileged_port_is_mapped_when_the_user_may_not_bind_it() -> None:
    assert resolve_port("127.0.93.1", 80, 10000, _unprivileged) == PortState(80, 10080)
    assert resolve_port("127.0.93.1", 8080, 10000, _unprivileged) == PortState(8080, 8080)


def test_privileged_port_without_offset_is_an_error_with_the_fix() -> None:
    state = resolve_port("127.0.93.1", 443, 0, _unprivileged)
    assert state.bind_port is None
    assert state.error is not None
    assert "cannot bind 127.0.93.1:443: permission denied" in state.error
    assert "CAP_NET_BIND_SERVICE" in state.error


def test_port_in_use_by_another_socket_is_reported() -> None:
    with socket.socket() as other:
        other.bind(("127.0.93.1", 0))
        other.listen()
        port = other.getsockname()[1]
        state = resolve_port("127.0.93.1", port, 10000)
    assert state == PortState(port, None, (
        f"cannot bind 127.0.93.1:{port}: address already in use; "
        "free the port or change the listener's port"
    ))
    assert resolve_port("127.0.93.1", port, 10000) == PortState(port, port)


def test_a_udp_port_is_probed_over_udp() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.93.1", 0))
        port = other.getsockname()[1]
        assert resolve_port("127.0.93.1", port, 10000, transports=("TCP",)) == \
            PortState(port, port)  # the TCP port of that number is free
        state = resolve_port("127.0.93.1", port, 10000, transports=("TCP", "UDP"))
    assert state.error is not None and "address already in use" in state.error
    assert resolve_port("127.0.93.1", port, 10000, transports=("TCP", "UDP")) == \
        PortState(port, port)
