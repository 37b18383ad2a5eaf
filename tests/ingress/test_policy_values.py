"""How the policy annotations' values are read: nginx sizes and times, and the Gateway API
durations they become (at most five digits a unit, as the CRDs require)."""

from __future__ import annotations

from propylon.ingress.annotations.policyvalues import duration, items, millis, size_bytes


def test_nginx_sizes() -> None:
    assert size_bytes("8m") == 8 * 1024**2
    assert size_bytes("512k") == 512 * 1024
    assert size_bytes("1024") == 1024
    assert size_bytes("1G") == 1024**3
    assert size_bytes("15r") is None
    assert size_bytes("") is None


def test_nginx_times_are_seconds_without_a_unit() -> None:
    assert millis("60") == 60_000
    assert millis("10s") == 10_000
    assert millis("5m") == 300_000
    assert millis("250ms") == 250
    assert millis("soon") is None


def test_durations_keep_each_unit_to_five_digits() -> None:
    assert duration(1_728_000_000) == "480h"
    assert duration(3_600_000) == "1h"
    assert duration(90_500) == "1m30s500ms"
    assert duration(0) == "0s"


def test_list_items_drop_blanks() -> None:
    assert items("a,  , b,") == ("a", "b")
