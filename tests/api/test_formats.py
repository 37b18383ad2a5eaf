"""The shared string formats: Gateway API durations and Kubernetes DNS names."""

from __future__ import annotations

import re

import pytest

from propylon.api.formats import DNS_LABEL, DNS_SUBDOMAIN, duration_ms


@pytest.mark.parametrize(("text", "ms"), [
    ("500ms", 500), ("1h2m3s", 3_723_000), ("2m", 120_000), ("1s500ms", 1500), ("0s", 0),
])
def test_duration_in_milliseconds(text: str, ms: int) -> None:
    assert duration_ms(text) == ms


@pytest.mark.parametrize(("name", "label", "subdomain"), [
    ("app", True, True),
    ("app-1.example.com", False, True),
    ("-app", False, False),
    ("app-", False, False),
    ("App", False, False),
    ("a..b", False, False),
])
def test_dns_names(name: str, label: bool, subdomain: bool) -> None:
    assert (re.search(DNS_LABEL, name) is not None) == label
    assert (re.search(DNS_SUBDOMAIN, name) is not None) == subdomain
