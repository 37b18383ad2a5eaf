"""`propylon up -f DIR` never removes what kubectl added to the objects of its files.

A Gateway comes from a file with two listeners. kubectl adds a third with
`kubectl apply --server-side` under a field manager of its own (an applied configuration that
holds only that listener) and a fourth with `kubectl patch`. All four are served, and still are
after `propylon up -f DIR` is restarted (it applies its files again at start). Editing the
file's own listener changes it; removing a listener from the file removes it from the Gateway
(the file's manager stopped applying it and nobody else owns it), while kubectl's listeners stay.
Real `propylon up`, real kubectl, real Envoy; each step waits for the state it needs.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Standalone, wait_for
from tests.e2e.test_walkthrough import condition, http_get

pytestmark = pytest.mark.e2e

HOST = "owned.apply.test"
APPLIED = "gateway.gateway.networking.k8s.io/owned serverside-applied"

GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: owned, namespace: default}}
spec:
  gatewayClassName: propylon
  listeners:
{listeners}
"""
LISTENER = "  - {{name: {name}, protocol: HTTP, port: {port}}}"
ROUTE = f"""\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: owned, namespace: default}}
spec:
  parentRefs:
  - name: owned
  hostnames: [{HOST}]
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {{hostname: moved.example, statusCode: 302}}
"""
KUBECTL_LISTENER = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: owned, namespace: default}}
spec:
  listeners:
  - {{name: kubectl-apply, protocol: HTTP, port: {port}}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_gateway(path: Path, listeners: dict[str, int]) -> None:
    path.write_text(GATEWAY.format(listeners="\n".join(
        LISTENER.format(name=name, port=port) for name, port in listeners.items())))


def listeners(sa: Standalone) -> dict[str, int]:
    gw = sa.get_json("gateway", "owned")
    return {item["name"]: item["port"] for item in gw["spec"]["listeners"]}


def served(address: str, port: int) -> bool:
    try:
        return http_get(address, port, HOST)[0] == 302
    except OSError:
        return False


def test_restart_keeps_what_kubectl_added(standalone: Standalone,
                                          tmp_path: Path) -> None:
    sa = standalone
    up_args = ("-f", str(tmp_path / "manifests"), "--api-port", str(free_port()))
    http, web, applied, patched, moved = 18080, 18081, 18082, 18083, 18084
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "class.yaml").write_text(
        (REPO / "examples" / "quickstart" / "gatewayclass.yaml").read_text())
    (manifests / "route.yaml").write_text(ROUTE)
    gateway_file = manifests / "gateway.yaml"
    write_gateway(gateway_file, {"http": http, "web": web})
    sa.start(*up_args)

    gw = wait_for("the Gateway programmed", lambda: (
        g := sa.get_json("gateway", "owned")) and condition(g, "Programmed") == "True" and g)
    address = gw["status"]["addresses"][0]["value"]
    wait_for("the file's listeners served", lambda: served(address, http) and served(address, web))

    # kubectl adds a listener by server-side apply, with a field manager of its own ...
    extra = tmp_path / "kubectl-listener.yaml"
    extra.write_text(KUBECTL_LISTENER.format(port=applied))
    sa.kubectl("apply", "--server-side", "--field-manager=ops", "-f", str(extra))
    # ... and another with kubectl patch
    sa.kubectl("patch", "gateway", "owned", "--type=json", "-p",
               '[{"op": "add", "path": "/spec/listeners/-", "value": '
               f'{{"name": "kubectl-patch", "protocol": "HTTP", "port": {patched}}}}}]')
    assert listeners(sa) == {"http": http, "web": web, "kubectl-apply": applied,
                             "kubectl-patch": patched}
    wait_for("kubectl's listeners served",
             lambda: served(address, applied) and served(address, patched))

    # restart: `propylon up -f` applies its files again, and kubectl's listeners stay
    assert sa.interrupt() == 0
    applies_before = sa.log_tail(10_000).count(APPLIED)
    sa.start(*up_args)
    wait_for("the files applied again after the restart",
             lambda: sa.log_tail(10_000).count(APPLIED) > applies_before)
    assert listeners(sa) == {"http": http, "web": web, "kubectl-apply": applied,
                             "kubectl-patch": patched}
    for port in (http, web, applied, patched):
        wait_for(f"port {port} served after the restart", lambda port=port: served(address, port))

    # editing the file's own listener changes it
    write_gateway(gateway_file, {"http": moved, "web": web})
    wait_for("the edited listener applied", lambda: listeners(sa).get("http") == moved)
    wait_for("the edited listener served", lambda: served(address, moved))
    wait_for("the old port closed", lambda: not served(address, http))

    # removing a listener from the file removes it; kubectl's listeners stay
    write_gateway(gateway_file, {"http": moved})
    wait_for("the removed listener gone", lambda: "web" not in listeners(sa))
    assert listeners(sa) == {"http": moved, "kubectl-apply": applied, "kubectl-patch": patched}
    wait_for("the removed listener's port closed", lambda: not served(address, web))
    assert served(address, applied) and served(address, patched)
