"""Infrastructure state subscribers: every one is told of a change, even when another fails."""

from __future__ import annotations

import logging

import pytest

from propylon.infra.subscribers import Subscribers
from propylon.ir.model import GatewayKey, InfraState

KEY = GatewayKey("apps", "web")


def test_a_failing_subscriber_is_logged_and_the_others_are_still_called(
        caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    subscribers = Subscribers()
    subscribers.add(broken)
    subscribers.add(lambda: calls.append("controller"))
    with caplog.at_level(logging.ERROR, logger="propylon.infra.subscribers"):
        subscribers.notify()
    assert calls == ["broken", "controller"]
    assert "infra state subscriber" in caplog.text and "boom" in caplog.text


def test_publish_calls_subscribers_only_when_the_states_change() -> None:
    calls: list[int] = []
    subscribers = Subscribers()
    subscribers.add(lambda: calls.append(1))
    waiting = {KEY: InfraState(KEY, "127.0.10.1", message="waiting for Envoy")}
    subscribers.publish(waiting)
    subscribers.publish(dict(waiting))  # the same states again: a pass that changed nothing
    assert len(calls) == 1
    subscribers.publish({KEY: InfraState(KEY, "127.0.10.1", ready=True)})
    assert len(calls) == 2
    subscribers.publish({})  # the Gateway is gone
    assert len(calls) == 3
