"""Loopback address allocation: stable, persisted, honouring usable requested addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from propylon.infra.host.addresses import AddressPool, parse_pool
from propylon.ir.model import GatewayKey

A = GatewayKey("default", "a")
B = GatewayKey("default", "b")
C = GatewayKey("other", "c")


def test_addresses_are_stable_across_a_restart_and_released_on_removal(tmp_path: Path) -> None:
    path = tmp_path / "addresses.json"
    pool = AddressPool("127.0.93.1-127.0.93.3", path)
    assert pool.assign(A).address == "127.0.93.1"
    assert pool.assign(B).address == "127.0.93.2"

    restarted = AddressPool("127.0.93.1-127.0.93.3", path)
    assert restarted.assign(B).address == "127.0.93.2"
    assert restarted.assign(C).address == "127.0.93.3"
    assert restarted.assign(A).address == "127.0.93.1"

    restarted.release(A)
    assert AddressPool("127.0.93.1-127.0.93.3", path).assign(GatewayKey("x", "new")).address == "127.0.93.1"


def test_exhausted_pool_says_so(tmp_path: Path) -> None:
    pool = AddressPool("127.0.93.1-127.0.93.1", tmp_path / "addresses.json")
    assert pool.assign(A).address == "127.0.93.1"
    refused = pool.assign(B)
    assert refused.address is None
    assert "127.0.93.1-127.0.93.1 is exhausted" in refused.message


def test_requested_address_is_honoured_when_loopback_and_free(tmp_path: Path) -> None:
    pool = AddressPool("127.0.93.1-127.0.93.3", tmp_path / "addresses.json")
    assert pool.assign(A, ("127.0.94.7",)).address == "127.0.94.7"
    assert pool.assign(B).address == "127.0.93.1"
    taken = pool.assign(C, ("127.0.94.7",))
    assert taken.address is None
    assert "127.0.94.7 is already assigned to Gateway default/a" in taken.message
    # Dropping the request gives the Gateway a pool address again.
    assert pool.assign(A).address == "127.0.93.2"


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (("10.0.0.1",), "requested address 10.0.0.1 is not a loopback address; standalone Propylon can only serve 127.0.0.0/8"),
        (("example.com",), "requested address 'example.com' is not an IP address"),
        (("127.0.94.1", "10.0.0.1"), "10.0.0.1 is not a loopback address"),
        (("127.0.94.1", "127.0.94.2"), "serves one address per Gateway"),
    ],
)
def test_unusable_requested_addresses_are_refused_with_the_reason(
    tmp_path: Path, requested: tuple[str, ...], expected: str
) -> None:
    pool = AddressPool("127.0.93.1-127.0.93.3", tmp_path / "addresses.json")
    assignment = pool.assign(A, requested)
    assert assignment.address is None
    assert expected in assignment.message


def test_pool_must_be_loopback() -> None:
    assert [str(a) for a in parse_pool("127.0.93.0/30")] == ["127.0.93.1", "127.0.93.2"]
    with pytest.raises(ValueError, match="10.0.0.1, which is not a loopback address"):
        parse_pool("10.0.0.1-10.0.0.5")
    with pytest.raises(ValueError, match="not valid"):
        parse_pool("lots")


def test_only_a_refusal_of_requested_addresses_is_unusable(tmp_path: Path) -> None:
    pool = AddressPool("127.0.93.1-127.0.93.1", tmp_path / "addresses.json")
    assert pool.assign(A, ("10.0.0.1",)).unusable
    assert pool.assign(A, ("127.0.94.1", "127.0.94.2")).unusable
    assert not pool.assign(A, ("127.0.94.1",)).unusable
    pool.release(A)
    assert pool.assign(GatewayKey("x", "first")).address == "127.0.93.1"
    exhausted = pool.assign(GatewayKey("x", "second"))
    assert exhausted.address is None and not exhausted.unusable
