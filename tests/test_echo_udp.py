"""The echo's UDP modes over real sockets: the UDP echo (`UDP_ECHO_SERVER`) and the CoreDNS
stand-in the UDP conformance tests query, fed the base manifests' own Corefile."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
import yaml

from propylon.echo import dnsmessage
from propylon.echo.dnsserver import answer, server_blocks
from tests.shared_data import shared


def base_corefile() -> str:
    manifests = shared("gateway-api", "v1.6.1", "conformance", "base", "manifests.yaml")
    return next(o["data"]["Corefile"] for o in yaml.safe_load_all(manifests.read_text())
                if o and o["kind"] == "ConfigMap" and o["metadata"]["name"] == "coredns")


def test_the_base_corefile_has_a_forwarding_root_and_a_whoami_zone() -> None:
    blocks = {b.zone: b for b in server_blocks(base_corefile())}
    assert blocks["."].port == 53 and "forward" in blocks["."].plugins
    assert blocks["foo.bar.com."].plugins == ("whoami",)
    with pytest.raises(ValueError, match="no server block"):
        server_blocks("forward . 8.8.8.8\n")


def test_whoami_answers_with_the_clients_address_and_port() -> None:
    blocks = server_blocks(base_corefile())
    reply = answer(dnsmessage.query("foo.bar.com.", 4242), ("127.9.9.9", 5353), blocks)
    assert reply is not None and dnsmessage.reply_id(reply) == 4242
    assert reply[3] & 0x0F == dnsmessage.RCODE_OK
    assert socket.inet_aton("127.9.9.9") in reply and (5353).to_bytes(2, "big") in reply
    # the forwarding zone cannot leave the machine: SERVFAIL, as CoreDNS says without upstreams
    other = answer(dnsmessage.query("example.com.", 7), ("127.9.9.9", 5353), blocks)
    assert other is not None and other[3] & 0x0F == dnsmessage.RCODE_SERVFAIL
    assert answer(b"gateway-api-conformance-udp-echo", ("127.9.9.9", 1), blocks) is None


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def ask(port: int, payload: bytes) -> bytes:
    """Send until the echo (starting in another process) answers; its first answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(0.2)
        for _ in range(100):
            client.sendto(payload, ("127.0.0.1", port))
            try:
                return client.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
    raise AssertionError(f"nothing answered on UDP port {port}")


async def run_echo(env: dict[str, str], port: int, payload: bytes) -> bytes:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "propylon.echo", "--bind", "127.0.0.1",
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        return await ask(port, payload)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def test_udp_echo_mode_answers_each_datagram_with_the_pods_context() -> None:
    port = free_udp_port()
    data = await run_echo({"UDP_ECHO_SERVER": "1", "UDP_PORT": str(port),
                           "POD_NAME": "udp-backend-v1-abc-12", "NAMESPACE": "infra",
                           "SERVICE_NAME": "udp-backend-v1"}, port, b"hello\n")
    assert json.loads(data) == {"request": "hello\n", "namespace": "infra", "ingress": "",
                                "service": "udp-backend-v1", "pod": "udp-backend-v1-abc-12"}


async def test_coredns_mode_serves_the_corefile_it_is_given(tmp_path: Path) -> None:
    port = free_udp_port()
    corefile = tmp_path / "Corefile"
    corefile.write_text(base_corefile().replace(":53", f":{port}"))
    data = await run_echo({"COREDNS_COREFILE": str(corefile)}, port,
                          dnsmessage.query("foo.bar.com.", 99))
    assert dnsmessage.reply_id(data) == 99 and data[3] & 0x0F == dnsmessage.RCODE_OK
