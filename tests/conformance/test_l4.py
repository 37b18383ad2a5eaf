"""TCP, UDP and DNS requests of the GATEWAY-TCP/UDP cases against the echo's servers over real
sockets, the profile rule of the report, and the case folder itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from propylon.cli.conformance import suite_of
from propylon.cli.errors import UsageError
from propylon.conformance import profiles, tcp, udp
from propylon.conformance.cases import load_cases, parse_case
from propylon.conformance.requests import Target
from propylon.echo.dnsserver import ServerBlock, serve_dns
from propylon.echo.tcpserver import TCPEchoConfig, serve_tcp
from propylon.echo.udpserver import serve_udp

L4_CASES = Path(__file__).resolve().parents[1] / "data" / "conformance-l4" / "cases"


def context(pod: str, service: str = "") -> dict[str, str]:
    return {"namespace": "infra", "ingress": "", "service": service, "pod": pod}


@pytest.fixture
async def udp_echo() -> AsyncIterator[Target]:
    transport = await serve_udp("127.0.0.1", 0, context("udp-attach-backend-1-abc-1",
                                                        "udp-attach-backend-1"))
    yield Target("127.0.0.1", transport.get_extra_info("sockname")[1])
    transport.close()


@pytest.fixture
async def tcp_echo() -> AsyncIterator[Target]:
    (server,) = await serve_tcp(TCPEchoConfig("127.0.0.1", 0),
                                context("tcp-attach-backend-1-abc-1"))
    yield Target("127.0.0.1", server.sockets[0].getsockname()[1])
    server.close()


async def test_plain_tcp_exchange_and_samples(tcp_echo: Target) -> None:
    request = {"protocol": "TCP"}
    expect = {"backend": "tcp-attach-backend-1", "namespace": "infra", "backendIsTLS": False}
    assert await tcp.wait_valid(tcp_echo, request, expect) is None
    assert await tcp.pod_once(tcp_echo) == "tcp-attach-backend-1-abc-1"
    assert await tcp.samples(tcp_echo, 5, "tcp-attach-backend-1") is None
    assert await tcp.samples(tcp_echo, 5, "tcp-attach-backend-2") == (
        "TCP echo request 1/5 reached 'tcp-attach-backend-1-abc-1', not 'tcp-attach-backend-2'")
    assert await tcp.wait_connectable(tcp_echo) is None


async def test_tcp_checks_fail_when_nothing_listens(tcp_echo: Target) -> None:
    closed = Target("127.0.0.1", 9)  # discard port: nothing listens on loopback
    reason = await tcp.wait_connectable(closed, max_time=0.3)
    assert reason is not None and "ConnectionRefusedError" in reason
    sampled = await tcp.samples(closed, 3, "tcp-attach-backend-1")
    assert sampled is not None and sampled.startswith("TCP echo request 1/3 failed")


async def test_udp_echo_checks_service_namespace_and_backend(udp_echo: Target) -> None:
    answer = await udp.pod_once(udp_echo)
    assert answer["request"] == "gateway-api-conformance-udp-weight\n"
    assert await udp.wait_echo(udp_echo, {}) is None
    assert await udp.wait_echo(udp_echo, {"service": "udp-attach-backend-1",
                                          "namespace": "infra"}) is None
    wrong = await udp.wait_echo(udp_echo, {"service": "udp-echo-by-port"}, within=0.5)
    assert wrong is not None and "answered by service 'udp-attach-backend-1'" in wrong
    assert await udp.wait_samples(udp_echo, 20, "udp-attach-backend-1") is None
    # an answer from another Deployment fails at once, without waiting out the 60 s
    loop = asyncio.get_running_loop()
    started = loop.time()
    other = await udp.wait_samples(udp_echo, 20, "udp-attach-backend-2")
    assert other is not None and other.startswith("UDP traffic reached 'udp-attach-backend-1'")
    assert loop.time() - started < udp.DEFAULT_TEST_TIMEOUT_S


async def test_udp_without_an_answer_is_not_valid() -> None:
    silent = await serve_dns("127.0.0.1", [ServerBlock("foo.bar.com.", 0, ("whoami",))])
    target = Target("127.0.0.1", silent[0].get_extra_info("sockname")[1])
    try:
        # the DNS server drops what is not a DNS query: the echo probe gets no answer
        reason = await udp.wait_echo(target, {}, within=0.5)
        assert reason is not None and "no answer" in reason
        assert await udp.wait_dns(target, "foo.bar.com.") is None
    finally:
        silent[0].close()


def test_profiles_follow_the_suites_rule() -> None:
    assert profiles.of(["Gateway", "TCPRoute"]) == {"GATEWAY-TCP": "core"}
    assert profiles.of(["Gateway", "UDPRoute", "ReferenceGrant"]) == {"GATEWAY-UDP": "core"}
    gateway_only = profiles.of(["Gateway", "ListenerSet"])
    assert set(gateway_only) == set(profiles.CORE) and set(gateway_only.values()) == {"extended"}
    assert profiles.of(["Gateway", "HTTPRoute", "TLSRoute"]) == {}
    assert profiles.of(["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"]) == {}


def test_the_l4_folder_holds_every_v1_6_1_tcp_and_udp_test_with_its_manifests() -> None:
    cases = load_cases(L4_CASES)
    assert len([c for c in cases if c.profiles == {"GATEWAY-TCP": "core"}]) == 8
    assert len([c for c in cases if c.profiles == {"GATEWAY-UDP": "core"}]) == 9
    root = suite_of(L4_CASES, "example.net/controller").manifests_root
    assert root.parts[-3:] == ("gateway-api", "v1.6.1", "conformance")
    for case in cases:
        for manifest in case.manifests:
            objects = list(yaml.safe_load_all((root / manifest).read_text()))
            routes = [o for o in objects if o and o["kind"] in ("TCPRoute", "UDPRoute")]
            assert all(o["apiVersion"] == "gateway.networking.k8s.io/v1" for o in routes)


def test_a_suite_yaml_without_manifests_is_refused(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text("note: no manifests here\n")
    with pytest.raises(UsageError, match="has no `manifests:`"):
        suite_of(tmp_path, "example.net/controller")


def test_namespaces_must_be_ready_names_one_or_several_namespaces() -> None:
    base = {"name": "X", "features": ["Gateway", "TCPRoute"], "manifests": [], "gateway": {}}
    assert parse_case({**base, "namespacesMustBeReady": True}).namespaces_must_be_ready == (
        "gateway-conformance-infra",)
    assert parse_case({**base, "namespacesMustBeReady": ["a", "b"]}).namespaces_must_be_ready \
        == ("a", "b")
    assert parse_case(base).namespaces_must_be_ready == ()
    # the profile comes from the features when the file does not say
    assert parse_case(base).profiles == {"GATEWAY-TCP": "core"}
