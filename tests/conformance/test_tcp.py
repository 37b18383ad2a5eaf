"""`protocol: TLS` requests against the echo backend's TCP mode, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from propylon.conformance import tcp
from propylon.conformance.requests import Target
from propylon.conformance.tlsmaterial import issue
from propylon.echo.tcpserver import TCPEchoConfig, serve_tcp

CONTEXT = {"namespace": "infra", "ingress": "", "service": "tcp-backend",
           "pod": "tcp-backend-abc-1"}


@pytest.fixture
async def echo(tmp_path: Path) -> AsyncIterator[tuple[int, int, bytes]]:
    """A TCP echo with TLS for abc.example.com: (plain port, TLS port, CA PEM)."""
    ca = issue("ca", ca=True)
    leaf = issue("abc.example.com", ("abc.example.com",), ca)
    (tmp_path / "crt").write_bytes(leaf.cert_pem)
    (tmp_path / "key").write_bytes(leaf.key_pem)
    servers = await serve_tcp(TCPEchoConfig("127.0.0.1", 0, 0, str(tmp_path / "crt"),
                                            str(tmp_path / "key")), CONTEXT)
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    yield ports[0], ports[1], ca.cert_pem
    for server in servers:
        server.close()


async def test_tls_exchange_reports_the_backend_and_the_sni_it_saw(
        echo: tuple[int, int, bytes]) -> None:
    _, tls_port, ca = echo
    reply = await tcp.exchange(Target("127.0.0.1", tls_port, ca), {"sni": "abc.example.com"})
    expect = {"backend": "tcp-backend", "namespace": "infra", "backendIsTLS": True,
              "backendSNI": "abc.example.com"}
    assert tcp.mismatch(reply, expect) is None
    assert "pod 'tcp-backend-abc-1' is not of backend 'other'" == tcp.mismatch(
        reply, {**expect, "backend": "other"})
    assert tcp.mismatch(reply, {**expect, "backendIsTLS": False}) == \
        "IS_TLS answered 'true', expected false"
    assert tcp.mismatch(reply, {**expect, "backendSNI": "x.example.com"}) == \
        "backend saw server name 'abc.example.com', expected 'x.example.com'"


async def test_a_certificate_for_another_name_is_not_a_valid_exchange(
        echo: tuple[int, int, bytes]) -> None:
    _, tls_port, ca = echo
    reason = await tcp.wait_valid(Target("127.0.0.1", tls_port, ca), {"sni": "tls.example.com"},
                                  {"backend": "tcp-backend", "namespace": "infra"}, max_time=0.5)
    assert reason is not None and "SSLCertVerificationError" in reason


async def test_rejected_means_the_dial_ends_in_eof_or_reset(echo: tuple[int, int, bytes]) -> None:
    async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    closing = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = closing.sockets[0].getsockname()[1]
    try:
        assert await tcp.wait_rejected(Target("127.0.0.1", port), {"sni": "example.com"}) is None
    finally:
        closing.close()
    _, tls_port, _ = echo
    reason = await tcp.wait_rejected(Target("127.0.0.1", tls_port), {"sni": "abc.example.com"},
                                     max_time=0.5)
    assert reason is not None and "handshake succeeded" in reason
