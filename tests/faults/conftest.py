"""A served Gateway on a real `propylon up`, for the fault tests to break.

`gateway` starts `propylon up` (the e2e `standalone` fixture) with an address pool and API port
of its own, so fault tests can run beside other stacks on the machine, and a `propylon echo`
backend in a process of its own (not `--echo`, which would die with the control plane). It
applies a GatewayClass, a Gateway with one HTTP listener, a Service whose EndpointSlice points at
the echo process and an HTTPRoute for `HOST`, then waits until Envoy answers 200 for it.
`Served.change(host)` adds a hostname to the route: a change whose arrival in Envoy a test can
wait for after a fault (`wait_served`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import BIN, REPO, Standalone, wait_for
from tests.e2e.conftest import standalone  # noqa: F401 - the fixture `gateway` builds on
from tests.e2e.test_walkthrough import condition, http_get
from tests.xds.xds_support import free_port

HOST = "app.faults.test"
PORT = 8080

APP = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: faults, namespace: default}}
spec:
  gatewayClassName: propylon
  listeners:
  - {{name: http, protocol: HTTP, port: {port}}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: default}}
spec:
  ports:
  - {{name: http, port: 80, targetPort: {backend}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo
  namespace: default
  labels: {{kubernetes.io/service-name: echo}}
addressType: IPv4
ports:
- {{name: http, port: {backend}, protocol: TCP}}
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {{ready: true}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: app, namespace: default}}
spec:
  parentRefs:
  - {{name: faults}}
  hostnames: [{host}]
  rules:
  - backendRefs:
    - {{name: echo, port: 80}}
"""


@dataclass
class Served:
    sa: Standalone
    up_args: tuple[str, ...]  # what `propylon up` was started with, to start it again the same way
    address: str

    def get(self, host: str = HOST) -> int:
        return http_get(self.address, PORT, host)[0]

    def control_plane_pid(self) -> int:
        assert self.sa.proc is not None
        return self.sa.proc.pid

    def restart(self) -> None:
        self.sa.start(*self.up_args)

    def change(self, host: str) -> None:
        """Add `host` to the route's hostnames (see `wait_served`)."""
        route = self.sa.get_json("httproute", "app")
        hostnames = [*route["spec"]["hostnames"], host]
        self.sa.kubectl("patch", "httproute", "app", "--type=merge", "-p",
                        json.dumps({"spec": {"hostnames": hostnames}}))

    def wait_served(self, host: str) -> None:
        wait_for(f"Envoy to serve host {host}", lambda: self.get(host) == 200)


@pytest.fixture
def gateway(standalone: Standalone) -> Iterator[Served]:  # noqa: F811 - the imported fixture
    up_args = ("--api-port", str(free_port()))
    backend = free_port()
    echo = subprocess.Popen([str(BIN / "propylon"), "echo", "--listen", f"127.0.0.1:{backend}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    sa = standalone
    try:
        sa.start(*up_args)
        sa.kubectl("apply", "-f", str(REPO / "examples" / "quickstart" / "gatewayclass.yaml"))
        sa.kubectl("apply", "-f", "-", input=APP.format(port=PORT, backend=backend, host=HOST))
        gw = wait_for("Gateway programmed", lambda: (
            g := sa.get_json("gateway", "faults")) and condition(g, "Programmed") == "True" and g)
        served = Served(sa, up_args, gw["status"]["addresses"][0]["value"])
        wait_for("the route served", lambda: served.get() == 200)
        yield served
    finally:
        if sa.proc is not None and sa.proc.poll() is None:
            os.kill(sa.proc.pid, signal.SIGCONT)  # a test that stopped it may have failed early
        echo.terminate()
        echo.wait(timeout=10)
