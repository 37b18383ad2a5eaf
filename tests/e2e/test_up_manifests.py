"""`propylon up -f DIR --echo ...`: the README's first command, and what happens as files change.

The manifests directory is applied at start; `kubectl apply` of an applied file finds it
unchanged (no missing last-applied-configuration warning); editing a file re-applies it, a
malformed file is reported (file and line) without losing what was applied, a broken route gets a
status condition while the good route keeps serving, and removing a file deletes its objects. A
listener whose port is taken by another process is Programmed=False with a message saying why,
and turns True once the port is free.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from .conftest import REPO, Standalone, wait_for
from .test_walkthrough import condition, http_get, served_port

pytestmark = pytest.mark.e2e

BROKEN_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: broken
  namespace: default
spec:
  parentRefs:
  - name: api-gateway
  hostnames: [broken.yourdomain.com]
  rules:
  - backendRefs:
    - name: no-such-service
      port: 80
"""

BLOCKED_GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: blocked
  namespace: default
spec:
  gatewayClassName: propylon
  addresses:
  - type: IPAddress
    value: {address}
  listeners:
  - name: http
    protocol: HTTP
    port: 8080
"""


def listener_condition(gw: dict, listener: str, type_: str) -> dict | None:
    for status in gw.get("status", {}).get("listeners", []):
        if status["name"] == listener:
            for cond in status["conditions"]:
                if cond["type"] == type_:
                    return cond
    return None


def test_up_applies_and_follows_the_manifests(standalone: Standalone, tmp_path: Path) -> None:
    sa = standalone
    manifests = tmp_path / "manifests"
    shutil.copytree(REPO / "examples" / "quickstart", manifests)
    app = manifests / "app.yaml"
    app.write_text(sa.app_manifest())
    sa.start("-f", str(manifests), "--echo", f"backend-1={sa.echo_listen}")

    gw = wait_for("Gateway programmed", lambda: (
        g := sa.get_json("gateway", "api-gateway")) and condition(g, "Programmed") == "True" and g)
    address = gw["status"]["addresses"][0]["value"]
    port = served_port(80)
    wait_for("the quickstart route served",
             lambda: http_get(address, port, "app.yourdomain.com")[0] == 200)
    assert http_get(address, port, "unknown.example")[0] == 404
    # the banner says how to get propylon and kubectl of the venv on PATH
    assert "/bin/activate   # propylon and kubectl on PATH" in sa.log_path.read_text()
    # the echo answers as backend-1, as the README says, and logs no line per request
    echoed = json.loads(http_get(address, port, "app.yourdomain.com")[1])
    assert (echoed["service"], echoed["pod"], echoed["namespace"]) == (
        "backend-1", "backend-1", "default")

    # kubectl apply of a file `up -f` applied: as after `kubectl apply` on a cluster
    again = sa.kubectl("apply", "-f", str(manifests / "gateway.yaml"))
    assert "last-applied-configuration" not in again.stderr
    assert again.stdout.strip() == "gateway.gateway.networking.k8s.io/api-gateway unchanged"

    # editing a file re-applies it
    app.write_text(app.read_text().replace("- app.yourdomain.com", "- app2.yourdomain.com"))
    wait_for("the edited hostname served", lambda: http_get(address, port, "app2.yourdomain.com")[0] == 200)
    wait_for("the old hostname gone", lambda: http_get(address, port, "app.yourdomain.com")[0] == 404)

    # a malformed file is reported by name and line; nothing applied is lost
    (manifests / "typo.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n")
    wait_for("the malformed file reported", lambda: "typo.yaml:" in sa.log_tail(200))
    assert http_get(address, port, "app2.yourdomain.com")[0] == 200

    # a broken route gets a condition naming the problem; the good route keeps serving
    (manifests / "broken.yaml").write_text(BROKEN_ROUTE)

    def broken_reported() -> bool:
        parents = sa.get_json("httproute", "broken").get("status", {}).get("parents", [])
        return any(c["type"] == "ResolvedRefs" and c["status"] == "False" and c["reason"] == "BackendNotFound"
                   and "no-such-service" in c["message"] for p in parents for c in p["conditions"])
    wait_for("the broken route's condition", broken_reported)
    wait_for("the broken route answers 500", lambda: http_get(address, port, "broken.yourdomain.com")[0] == 500)
    assert http_get(address, port, "app2.yourdomain.com")[0] == 200

    # an invalid object is refused with the field path; the rest of its file applies
    (manifests / "invalid.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n  namespace: default\n---\n"
        + BLOCKED_GATEWAY.format(address="127.0.10.78").replace("port: 8080", "port: 70000"))
    wait_for("the invalid Gateway reported with its field",
             lambda: "spec.listeners[0].port" in sa.log_tail(200))
    assert sa.kubectl("get", "configmap", "fine", check=False).returncode == 0

    # removing a file deletes what it applied
    (manifests / "broken.yaml").unlink()
    wait_for("the removed file's route deleted",
             lambda: sa.kubectl("get", "httproute", "broken", check=False).returncode != 0)
    assert json.loads(sa.kubectl("get", "httproute", "-o", "json").stdout)["items"][0]["metadata"][
        "name"] == "host-route"
    assert "Echoing back" not in sa.log_path.read_text(errors="replace")


def test_port_in_use_is_reported_then_recovers(standalone: Standalone, tmp_path: Path) -> None:
    sa = standalone
    sa.start()
    sa.kubectl("apply", "-f", str(REPO / "examples" / "quickstart" / "gatewayclass.yaml"))
    address = "127.0.10.77"
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((address, 8080))
    squatter.listen()
    try:
        manifest = tmp_path / "blocked.yaml"
        manifest.write_text(BLOCKED_GATEWAY.format(address=address))
        sa.kubectl("apply", "-f", str(manifest))
        cond = wait_for("the listener reported not programmed because of the port", lambda: (
            c := listener_condition(sa.get_json("gateway", "blocked"), "http", "Programmed"))
            and c["status"] == "False" and "in use" in c["message"] and c)
        assert f"{address}:8080" in cond["message"]
        gw = sa.get_json("gateway", "blocked")
        assert condition(gw, "Programmed") == "False"
    finally:
        squatter.close()
    wait_for("the listener programmed once the port is free", lambda: (
        c := listener_condition(sa.get_json("gateway", "blocked"), "http", "Programmed"))
        and c["status"] == "True")
    wait_for("the Gateway programmed", lambda: condition(sa.get_json("gateway", "blocked"), "Programmed") == "True")
