"""The runner's HTTP/2 client against the echo backend, and per-run loopback slots."""

from __future__ import annotations

import json
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
    first = network.claim(lock_dir=tmp_path)
    second = network.claim(lock_dir=tmp_path)
    assert (first.network.slot, second.network.slot) == (2, 3)
    with pytest.raises(network.SlotTaken, match="slot 2"):
        network.claim(2, lock_dir=tmp_path)
    first.release()
    again = network.claim(2, lock_dir=tmp_path)
    assert again.network.address_pool == "127.2.10.1-127.2.10.254"
    assert again.network.usable_address == "127.2.10.200"
    assert str(again.network.pod_network) == "127.2.128.0/17"
    second.release()
    again.release()
