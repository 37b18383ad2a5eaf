"""The runner's HTTP/2 client against the echo backend, and per-run loopback slots."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import pytest

from propylon.conformance import h2client, network
from propylon.echo.httpserver import EchoConfig, serve


async def test_h2c_prior_knowledge_request_reaches_the_echo_as_http2() -> None:
    server = await serve(EchoConfig(bind="127.0.0.1", http_port=0, h2c_port=0,
                                    context={"namespace": "ns", "pod": "backend-a-b"}))
    try:
        _, h2c = server.ports()[:2]
        response = await h2client.get("127.0.0.1", h2c, "GET", "/x?y=1",
                                      {"Host": "example.com", "X-Echo-Set-Header": "A:b"})
    finally:
        await server.close()
    assert response.status == 200
    echoed = json.loads(response.body)
    assert (echoed["proto"], echoed["host"], echoed["path"]) == ("HTTP/2.0", "example.com",
                                                                 "/x?y=1")
    assert echoed["headers"]["X-Echo-Set-Header"] == ["A:b"]
    assert response.header_values("a") == ["b"]


async def test_a_server_that_does_not_speak_http2_is_an_error() -> None:
    server = await serve(EchoConfig(bind="127.0.0.1", http_port=0, h2c_port=0))
    try:
        http = server.ports()[0]
        with pytest.raises(h2client.H2Error):
            await h2client.get("127.0.0.1", http, "GET", "/", {})
    finally:
        await server.close()


def test_runs_claim_distinct_slots_until_released(tmp_path: Path) -> None:
    no_sockets = tmp_path / "net"  # no /proc/net files: no socket anywhere
    first = network.claim(lock_dir=tmp_path, proc_net=no_sockets)
    second = network.claim(lock_dir=tmp_path, proc_net=no_sockets)
    assert (first.network.slot, second.network.slot) == (2, 3)
    with pytest.raises(network.SlotTaken, match="slot 2"):
        network.claim(2, lock_dir=tmp_path, proc_net=no_sockets)
    first.release()
    again = network.claim(2, lock_dir=tmp_path, proc_net=no_sockets)
    assert again.network.address_pool == "127.2.10.1-127.2.10.254"
    assert again.network.usable_address == "127.2.10.200"
    assert str(again.network.pod_network) == "127.2.128.0/17"
    second.release()
    again.release()


def test_a_slot_where_a_stray_process_holds_a_socket_is_passed_over(tmp_path: Path) -> None:
    # /proc/net/tcp's layout: 127.2.128.3:3000 listening (0A), 127.3.0.1:80 only connected (01)
    proc_net = tmp_path / "net"
    proc_net.mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    (proc_net / "tcp").write_text(header + "   0: 0380027F:0BB8 00000000:0000 0A 0:0\n"
                                           "   1: 0100037F:0050 0100007F:9C40 01 0:0\n")
    (proc_net / "udp").write_text(header + "   0: 0500047F:0035 00000000:0000 07 0:0\n")
    assert network.bound_loopback(proc_net) == {
        ipaddress.IPv4Address("127.2.128.3"), ipaddress.IPv4Address("127.4.0.5")}
    locks = tmp_path / "locks"
    locks.mkdir()
    first = network.claim(lock_dir=locks, proc_net=proc_net)
    second = network.claim(lock_dir=locks, proc_net=proc_net)
    assert (first.network.slot, second.network.slot) == (3, 5)
    with pytest.raises(network.SlotTaken, match="127.2.128.3"):
        network.claim(2, lock_dir=locks, proc_net=proc_net)
    first.release()
    second.release()


def test_a_real_listening_socket_is_seen() -> None:
    with socket.socket() as listener:
        listener.bind(("127.9.0.7", 0))
        listener.listen()
        assert ipaddress.IPv4Address("127.9.0.7") in network.bound_loopback()
