"""`propylon translate -f`: offline preview of statuses and Envoy configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.cli.main import main
from propylon.cli.translate import with_statuses
from propylon.translate.types import StatusUpdate
from tests.certificates import self_signed
from tests.controller.helpers import JSONStatus

WALKTHROUGH = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: propylon}
spec: {controllerName: propylon.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: api-gateway}
spec:
  gatewayClassName: propylon
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - name: https
    protocol: HTTPS
    port: 443
    hostname: app.example.com
    tls: {mode: Terminate, certificateRefs: [{kind: Secret, name: app-tls}]}
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec: {ports: [{name: http, port: 80, targetPort: 3000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-local, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: http, port: 9001, protocol: TCP}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: api-gateway}]
  hostnames: [app.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: backend, port: 80}]
"""


def tls_secret() -> tuple[str, str]:
    """A self-signed certificate for app.example.com as a Secret manifest, and its key PEM."""
    cert_pem, key_pem = self_signed("app.example.com")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": "app-tls", "namespace": "default"},
              "stringData": {"tls.crt": cert_pem, "tls.key": key_pem}}
    return yaml.safe_dump(secret), key_pem


@pytest.fixture
def walkthrough(tmp_path: Path) -> tuple[Path, str]:
    secret, key_pem = tls_secret()
    (tmp_path / "walkthrough.yaml").write_text(WALKTHROUGH)
    (tmp_path / "secret.yaml").write_text(secret)
    return tmp_path, key_pem


def test_prints_gateway_status_and_envoy_listeners(capsys: pytest.CaptureFixture[str],
                                                  walkthrough: tuple[Path, str]) -> None:
    path, key_pem = walkthrough
    assert main(["translate", "-f", str(path)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    gateway = next(d for d in docs if d.get("kind") == "Gateway")
    assert gateway["status"]["addresses"] == [{"type": "IPAddress", "value": "127.0.10.1"}]
    programmed = [c for c in gateway["status"]["conditions"] if c["type"] == "Programmed"]
    assert programmed[0]["status"] == "True"
    assert gateway["metadata"]["namespace"] == "default"
    route = next(d for d in docs if d.get("kind") == "HTTPRoute")
    assert route["status"]["parents"][0]["parentRef"]["name"] == "api-gateway"
    envoy = next(d for d in docs if d.get("node") == "default/api-gateway")
    ports = sorted(li["address"]["socketAddress"]["portValue"] for li in envoy["listeners"])
    assert ports == [80, 443]
    assert {li["address"]["socketAddress"]["address"] for li in envoy["listeners"]} == {
        "127.0.10.1"}
    assert envoy["secrets"][0]["tlsCertificate"]["privateKey"] == {"inlineString": "REDACTED"}
    assert "PRIVATE KEY" not in yaml.safe_dump(envoy)
    assert key_pem.splitlines()[1] not in yaml.safe_dump(envoy)


def envoy_of(out: str, node: str) -> dict[str, Any]:
    """The Envoy configuration printed for the Gateway `node`."""
    return next(d for d in yaml.safe_load_all(out) if d.get("node") == node)


def virtual_host(envoy: dict[str, Any], name: str) -> dict[str, Any]:
    """The printed virtual host named `name`."""
    return next(vh for vh in envoy["virtual_hosts"] if vh["name"] == name)


def test_prints_each_routes_virtual_host(capsys: pytest.CaptureFixture[str],
                                         walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    assert main(["translate", "-f", str(path)]) == 0
    envoy = envoy_of(capsys.readouterr().out, "default/api-gateway")
    tables = {rt["name"] for rt in envoy["routes"]}
    assert len(tables) == 2
    for table in tables:  # the route is served on both listeners, each in its route table
        host = virtual_host(envoy, f"{table}/app.example.com")
        assert host["domains"] == ["app.example.com"]
        [route] = host["routes"]
        assert route["match"] == {"pathSeparatedPrefix": "/api"}
        assert route["route"]["cluster"] == "default/backend/80"
    assert {vh["name"].rpartition("/")[0] for vh in envoy["virtual_hosts"]} <= tables
    assert [c["name"] for c in envoy["clusters"]] == ["default/backend/80"]


def test_a_route_change_changes_its_virtual_host(capsys: pytest.CaptureFixture[str],
                                                 walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    (path / "walkthrough.yaml").write_text(
        WALKTHROUGH.replace("hostnames: [app.example.com]", "hostnames: [shop.example.com]")
        .replace("value: /api", "value: /cart").replace("name: backend, port: 80",
                                                        "name: shop, port: 8080")
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: shop}\n"
          "spec: {ports: [{port: 8080}]}\n")
    assert main(["translate", "-f", str(path)]) == 0
    envoy = envoy_of(capsys.readouterr().out, "default/api-gateway")
    # the HTTPS listener (hostname app.example.com) no longer takes the route: one host has it
    [host] = [vh for vh in envoy["virtual_hosts"] if vh.get("routes")]
    assert host["name"] == "default/api-gateway/80/shop.example.com"
    assert host["domains"] == ["shop.example.com"]
    [route] = host["routes"]
    assert route["match"] == {"pathSeparatedPrefix": "/cart"}
    assert route["route"]["cluster"] == "default/shop/8080"


def test_other_controller_name_leaves_everything_without_status(
        capsys: pytest.CaptureFixture[str], walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    assert main(["translate", "-f", str(path), "--controller-name", "example.com/other"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert not any("status" in d for d in docs)
    assert not any("node" in d for d in docs)


def test_gateway_status_is_replaced_whole_keeping_unchanged_condition_times(
        capsys: pytest.CaptureFixture[str], walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    accepted = {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "old",
                "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z"}
    stale = {"attachedListenerSets": 3, "conditions": [
        accepted, {**accepted, "type": "Programmed", "status": "False"}]}
    listener = {"name": "http", "protocol": "HTTP", "port": 8080}
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "stale"}, "status": stale,
               "spec": {"gatewayClassName": "propylon", "listeners": [listener]}}
    (path / "stale.yaml").write_text(yaml.safe_dump(gateway))
    assert main(["translate", "-f", str(path)]) == 0
    printed = next(d for d in yaml.safe_load_all(capsys.readouterr().out)
                   if d.get("kind") == "Gateway" and d["metadata"]["name"] == "stale")
    assert "attachedListenerSets" not in printed["status"]  # no ListenerSet: a stale field
    times = {c["type"]: c["lastTransitionTime"] for c in printed["status"]["conditions"]}
    assert times["Accepted"] == "2020-01-01T00:00:00Z"  # still True
    assert times["Programmed"] != "2020-01-01T00:00:00Z"  # became True


def test_malformed_yaml_names_file_and_line(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Gateway\nmetadata:\n  name: x\n  labels: {a: b\n")
    assert main(["translate", "-f", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}:")
    assert "malformed YAML" in captured.err


def test_route_status_keeps_other_controllers_parents() -> None:
    theirs = {"controllerName": "example.com/other", "parentRef": {"name": "x"}}
    mine = {"controllerName": "propylon.dev/gateway-controller", "parentRef": {"name": "y"}}
    route = {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "default"},
             "status": {"parents": [theirs, {**mine, "stale": True}]}}
    update = StatusUpdate("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "r", 1,
                          JSONStatus({"parents": [mine]}))
    merged = with_statuses([route], (update,), "propylon.dev/gateway-controller")
    assert merged[0]["status"]["parents"] == [theirs, mine]
    assert route["status"]["parents"][1]["stale"]  # the input is not modified


def test_check_with_envoy_accepts_the_walkthrough(capsys: pytest.CaptureFixture[str],
                                                  walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    assert main(["translate", "-f", str(path), "--check-with-envoy"]) == 0
    assert "Envoy accepts the configuration of 1 Gateway(s)" in capsys.readouterr().err


def test_check_with_envoy_reports_envoys_refusal(capsys: pytest.CaptureFixture[str],
                                                 walkthrough: tuple[Path, str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """What Envoy says when it refuses is the command's error (an `envoy` on PATH that refuses
    everything stands in for a configuration Envoy refuses)."""
    path, _ = walkthrough
    refusing = tmp_path / "bin" / "envoy"
    refusing.parent.mkdir()
    refusing.write_text("#!/bin/sh\necho 'error initializing configuration: it is refused' >&2\n"
                        "exit 1\n")
    refusing.chmod(0o755)
    monkeypatch.setenv("PATH", f"{refusing.parent}:{os.environ['PATH']}")
    assert main(["translate", "-f", str(path), "--check-with-envoy"]) == 1
    assert ("error: Envoy refuses this configuration: error initializing configuration: it is "
            "refused") in capsys.readouterr().err


def test_a_class_of_another_controller_gets_a_note(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    (tmp_path / "eg.yaml").write_text(
        WALKTHROUGH.replace("controllerName: propylon.dev/gateway-controller",
                            "controllerName: gateway.envoyproxy.io/gatewayclass-controller"))
    assert main(["translate", "-f", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    [note] = [line for line in captured.err.splitlines() if line.startswith("note: ")]
    assert 'GatewayClass "propylon" names controllerName ' \
           '"gateway.envoyproxy.io/gatewayclass-controller"' in note
    assert "spec.controllerName: propylon.dev/gateway-controller" in note
    assert "--controller-name gateway.envoyproxy.io/gatewayclass-controller" in note
    assert not any("node" in d for d in yaml.safe_load_all(captured.out))


def test_no_note_for_our_own_class(capsys: pytest.CaptureFixture[str],
                                   walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    assert main(["translate", "-f", str(path)]) == 0
    assert "note:" not in capsys.readouterr().err


CREDENTIALS = """
apiVersion: v1
kind: Secret
metadata: {name: users}
stringData: {.htpasswd: "user1:{SHA}tESsBmE/yNY3lb6a0L6vVQEZNqw=\\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: keys}
stringData: {client1: very-secret-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: auth}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  basicAuth: {users: {name: users}}
  apiKeyAuth:
    credentialRefs: [{name: keys}]
    extractFrom: [{headers: [X-API-KEY]}]
"""


def test_credentials_are_redacted_from_secrets_and_the_envoy_configuration(
        capsys: pytest.CaptureFixture[str], walkthrough: tuple[Path, str]) -> None:
    path, _ = walkthrough
    (path / "credentials.yaml").write_text(CREDENTIALS)
    assert main(["translate", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    policy = next(d for d in yaml.safe_load_all(out) if d.get("kind") == "SecurityPolicy")
    assert policy["status"]["ancestors"][0]["conditions"][0]["status"] == "True"
    envoy = envoy_of(out, "default/api-gateway")
    route = virtual_host(envoy, "default/api-gateway/80/app.example.com")["routes"][0]
    per_route = route["typedPerFilterConfig"]
    assert per_route["envoy.filters.http.basic_auth"]["users"] == {"inlineString": "REDACTED"}
    assert per_route["envoy.filters.http.api_key_auth"]["credentials"] == [
        {"key": "REDACTED", "client": "client1"}]
    secrets = {d["metadata"]["name"]: d["data"] for d in yaml.safe_load_all(out)
               if d.get("kind") == "Secret"}
    assert secrets["keys"] == {"client1": "REDACTED"}
    assert secrets["app-tls"] == {"tls.crt": "REDACTED", "tls.key": "REDACTED"}
    for leaked in ("tESsBmE", "very-secret-key", "dmVyeS1zZWNyZXQta2V5"):
        assert leaked not in out
