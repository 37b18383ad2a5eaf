"""The run's client address outside loopback: requests sent from it reach a loopback server,
which sees it as the peer; it is gone after `remove`; a case needing it is skipped, never
passed, when the run cannot add it."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from propylon.conformance import requests, supplements
from propylon.conformance.cases import parse_case
from propylon.conformance.network import claim
from propylon.conformance.runner import CaseSkipped, Harness
from propylon.conformance.sourceaddress import ClientAlias

CLIENT_NETWORK = ipaddress.IPv4Network("172.0.0.0/8")


@pytest.fixture
async def peer_server() -> AsyncIterator[tuple[str, int]]:
    """A loopback HTTP server in a slot of its own answering with the peer's address."""
    slot = claim()

    async def peer(request: web.Request) -> web.Response:
        return web.Response(text=str(request.remote))

    app = web.Application()
    app.router.add_get("/", peer)
    runner = web.AppRunner(app)
    await runner.setup()
    address = f"127.{slot.network.slot}.10.1"
    site = web.TCPSite(runner, address, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield address, port
    await runner.cleanup()
    slot.release()


def _bindable(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError as err:
            assert err.errno == errno.EADDRNOTAVAIL
            return False
    return True


async def test_requests_come_from_the_client_address(peer_server: tuple[str, int]) -> None:
    address, port = peer_server
    alias = ClientAlias(ipaddress.IPv4Address(f"172.31.{address.split('.')[1]}.1"))
    source, reason = await alias.acquire(CLIENT_NETWORK)
    if source is None:
        assert "CAP_NET_ADMIN" in reason or "iproute2" in reason
        pytest.skip(f"this process cannot add a loopback address: {reason}")
    try:
        assert _bindable(source)
        outcome = await requests.send(requests.Target(address, port, source=source),
                                      {"path": "/", "protocol": "HTTP"})
        assert outcome.error == ""
        assert outcome.response.body.decode() == source
        plain = await requests.send(requests.Target(address, port),
                                    {"path": "/", "protocol": "HTTP"})
        assert plain.response.body.decode() == "127.0.0.1"
    finally:
        alias.remove()
    assert not _bindable(source)


async def test_an_address_outside_the_network_is_refused() -> None:
    alias = ClientAlias(ipaddress.IPv4Address("172.31.5.1"))
    source, reason = await alias.acquire(ipaddress.IPv4Network("10.0.0.0/8"))
    assert source is None
    assert reason == "the run's client address 172.31.5.1 is not in 10.0.0.0/8"


async def test_a_case_needing_a_client_network_is_skipped_without_the_address(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no `ip` command: the address cannot be added
    name = "AuthzWithClientIPTrustedCIDRs"
    case = parse_case({"name": name, "gateway": {"name": "gw"}}, Path(f"{name}.yaml"))
    harness = Harness(cast(Any, None), cast(Any, None), Path("."), cast(Any, None),
                      client_alias=ClientAlias(ipaddress.IPv4Address("172.31.5.1")))
    with pytest.raises(CaseSkipped, match=r"needs a client address in 172\.0\.0\.0/8: .*iproute2"):
        await harness.client_source(case)
    assert supplements.CLIENT_NETWORKS[name] == "172.0.0.0/8"
    other = parse_case({"name": "AuthzWithClientIP", "gateway": {"name": "gw"}},
                       Path("AuthzWithClientIP.yaml"))
    assert await harness.client_source(other) is None
