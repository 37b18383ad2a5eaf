"""TCP and UDP through `propylon up`: real kubectl, real Envoy, real sockets.

One Gateway has a TCP and a UDP listener on the same port number (other sockets, no conflict);
a TCPRoute (applied as v1alpha2, as the conformance manifests write it) sends connections to a
TCP echo, a UDPRoute sends datagrams to a UDP echo, both echoes being `python -m propylon.echo`
processes. Both listeners are Programmed, both routes Accepted; a TCP connection to the
Gateway's address reaches the TCP echo and a datagram gets the UDP echo's answer; the Service
standalone mode publishes for the Gateway lists a TCP and a UDP port of that number.
BackendTrafficPolicies on both routes: a circuit breaker applied to the TCPRoute, a retry on
the UDPRoute refused by status.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Standalone, free_port, wait_for

pytestmark = pytest.mark.e2e

API = "gateway.networking.k8s.io/v1"


def _own_address() -> tuple[str, int]:
    """A loopback address outside the default pool and a port free there over TCP and UDP."""
    for _ in range(100):
        address = f"127.{random.randint(100, 199)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        port = random.randint(20000, 40000)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind((address, port))
        except OSError:
            continue
        return address, port
    raise AssertionError("no free loopback address found")


def _echo(mode: str, port: int, pod: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **{f"{mode}_ECHO_SERVER": "1", f"{mode}_PORT": str(port),
                              "POD_NAME": pod, "NAMESPACE": "default"})
    return subprocess.Popen([sys.executable, "-m", "propylon.echo", "--bind", "127.0.0.1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def echoes() -> Iterator[tuple[int, int]]:
    """A TCP echo and a UDP echo on free ports of 127.0.0.1."""
    tcp_port, udp_port = free_port(), free_port()
    procs = [_echo("TCP", tcp_port, "tcp-echo-1"), _echo("UDP", udp_port, "udp-echo-1")]
    try:
        yield tcp_port, udp_port
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def _service(name: str, port: int, target: int, protocol: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
         "spec": {"ports": [{"name": "p", "port": port, "targetPort": target,
                             "protocol": protocol}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-local", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": name}},
         "addressType": "IPv4", "ports": [{"name": "p", "port": target, "protocol": protocol}],
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]},
    ]


def _manifests(port: int, tcp_port: int, udp_port: int) -> list[dict[str, Any]]:
    return [
        {"apiVersion": API, "kind": "GatewayClass", "metadata": {"name": "propylon"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": API, "kind": "Gateway", "metadata": {"name": "l4", "namespace": "default"},
         "spec": {"gatewayClassName": "propylon", "listeners": [
             {"name": "tcp", "protocol": "TCP", "port": port},
             {"name": "udp", "protocol": "UDP", "port": port}]}},
        *_service("tcp-echo", 3000, tcp_port, "TCP"),
        *_service("udp-echo", 53, udp_port, "UDP"),
        {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
         "metadata": {"name": "tcp", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "l4", "sectionName": "tcp"}],
                  "rules": [{"backendRefs": [{"name": "tcp-echo", "port": 3000}]}]}},
        {"apiVersion": API, "kind": "UDPRoute", "metadata": {"name": "udp", "namespace": "default"},
         "spec": {"parentRefs": [{"name": "l4", "port": port}],
                  "rules": [{"backendRefs": [{"name": "udp-echo", "port": 53}]}]}},
    ]


def _conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("conditions") or ()}


def _tcp_pod(address: str, port: int) -> str | None:
    """The pod of the TCP echo a connection to the Gateway reaches (None: no echo answered)."""
    try:
        with socket.create_connection((address, port), timeout=2) as conn:
            conn.sendall(b"TEST\n")
            stream = conn.makefile("rb")
            welcome, reply = stream.readline(), stream.readline()
    except OSError:
        return None
    if welcome != b"Gateway API Test TCP Server\n":
        return None
    try:
        return str(json.loads(reply)["pod"])
    except ValueError:
        return None


def _udp_answer(address: str, port: int) -> dict[str, Any] | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(b"hello", (address, port))
        try:
            return dict(json.loads(s.recv(2048)))
        except (OSError, ValueError):
            return None


def test_tcp_and_udp_routes_on_one_port_number(standalone: Standalone,
                                               echoes: tuple[int, int]) -> None:
    address, port = _own_address()
    standalone.start("--address-pool", f"{address}-{address}")
    standalone.kubectl("apply", "-f", "-", input="\n---\n".join(
        json.dumps(o) for o in _manifests(port, *echoes)))

    def programmed() -> bool:
        status = standalone.get_json("gateway", "l4", "-n", "default").get("status") or {}
        listeners = {li["name"]: _conditions(li) for li in status.get("listeners") or ()}
        return all(listeners.get(n, {}).get("Programmed") == "True" for n in ("tcp", "udp"))

    wait_for("both listeners Programmed", programmed)
    for kind in ("tcproute", "udproute"):
        route = standalone.get_json(kind, kind[:3], "-n", "default")
        [parent] = route["status"]["parents"]
        assert _conditions(parent) == {"Accepted": "True", "ResolvedRefs": "True"}, parent

    assert wait_for("a TCP connection through the Gateway",
                    lambda: _tcp_pod(address, port)) == "tcp-echo-1"
    answer = wait_for("the UDP echo's answer through the Gateway",
                      lambda: _udp_answer(address, port))
    assert (answer["request"], answer["pod"]) == ("hello", "udp-echo-1")

    services = standalone.get_json(
        "services", "-A", "-l", "gateway.networking.k8s.io/gateway-name=l4")["items"]
    assert sorted((p["port"], p["protocol"]) for s in services for p in s["spec"]["ports"]) == [
        (port, "TCP"), (port, "UDP")]


def _policy(name: str, kind: str, route: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": kind,
                                     "name": route}], **spec}}


def _accepted(standalone: Standalone, name: str) -> tuple[str, str] | None:
    policy = standalone.get_json("backendtrafficpolicy", name, "-n", "default")
    for ancestor in (policy.get("status") or {}).get("ancestors") or ():
        for condition in ancestor.get("conditions") or ():
            if condition["type"] == "Accepted":
                return condition["status"], condition.get("message", "")
    return None


def _second_refused_while_first_open(address: str, port: int) -> bool:
    """With one connection through the Gateway held open (the echo answered it), a second one
    gets no answer."""
    with socket.create_connection((address, port), timeout=2) as first:
        first.sendall(b"TEST\n")
        stream = first.makefile("rb")
        if stream.readline() != b"Gateway API Test TCP Server\n" or not stream.readline():
            return False
        return _tcp_pod(address, port) is None


def test_backend_traffic_policy_on_tcp_and_udp_routes(standalone: Standalone,
                                                      echoes: tuple[int, int]) -> None:
    """A BackendTrafficPolicy's circuit breaker on the TCPRoute: with maxConnections 1, a second
    connection while one is open is closed, and passes again once the first is closed. One
    with a retry on the UDPRoute is Accepted False naming spec.retry; the UDP route still
    answers."""
    address, port = _own_address()
    standalone.start("--address-pool", f"{address}-{address}")
    standalone.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in [
        *_manifests(port, *echoes),
        _policy("one-connection", "TCPRoute", "tcp", {"circuitBreaker": {"maxConnections": 1}}),
        _policy("udp-retry", "UDPRoute", "udp", {"retry": {"numRetries": 2}})]))

    assert wait_for("the TCPRoute's policy accepted",
                    lambda: _accepted(standalone, "one-connection")) == (
        "True", "Policy has been accepted.")
    status, message = wait_for("the UDPRoute's policy refused",
                               lambda: _accepted(standalone, "udp-retry"))
    assert status == "False" and "spec.retry does not apply to UDPRoute default/udp" in message
    wait_for("a second TCP connection refused while one is open",
             lambda: _second_refused_while_first_open(address, port))
    assert wait_for("a TCP connection once none is open",
                    lambda: _tcp_pod(address, port)) == "tcp-echo-1"
    assert wait_for("the UDP echo's answer", lambda: _udp_answer(address, port))["pod"] == \
        "udp-echo-1"
