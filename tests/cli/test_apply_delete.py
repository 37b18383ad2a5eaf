"""`propylon apply` and `propylon delete` against the real embedded API server, compared with
what `kubectl apply --server-side` and `kubectl delete` print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from propylon.cli.main import main
from tests.cli.conftest import Cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "quickstart"

INVALID = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bad, namespace: default}
spec:
  gatewayClassName: propylon
  listeners:
  - {name: http, protocol: HTTP, port: 70000}
  - {name: other, protocol: HTTP, port: 0}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: after-the-bad-one}
spec: {controllerName: propylon.dev/gateway-controller}
"""


def run(capsys: pytest.CaptureFixture[str], cluster: Cluster, *args: str) -> tuple[int, str, str]:
    code = main(list(args) + ["--kubeconfig", str(cluster.kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_creates_then_updates_like_kubectl_server_side(
        capsys: pytest.CaptureFixture[str], cluster: Cluster) -> None:
    code, out, err = run(capsys, cluster, "apply", "-f", str(EXAMPLES))
    assert (code, err) == (0, "")
    assert "gateway.gateway.networking.k8s.io/api-gateway serverside-applied\n" in out
    gateway = json.loads(cluster.kubectl("get", "gateway", "api-gateway", "-o", "json").stdout)
    assert gateway["spec"]["listeners"][0]["port"] == 80
    expected = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(EXAMPLES))
    assert out == expected.stdout
    code, again, _ = run(capsys, cluster, "apply", "-f", str(EXAMPLES))
    assert (code, again) == (0, out)


def test_invalid_object_is_reported_like_kubectl_and_the_rest_is_applied(
        capsys: pytest.CaptureFixture[str], cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(INVALID)
    code, out, err = run(capsys, cluster, "apply", "-f", str(path))
    assert code == 1
    assert out == "gatewayclass.gateway.networking.k8s.io/after-the-bad-one serverside-applied\n"
    expected = cluster.kubectl("apply", "--server-side", "-f", str(path), check=False)
    assert expected.returncode == 1
    assert err.startswith('The Gateway "bad" is invalid: \n* spec.listeners[0].port')
    assert err == expected.stderr


def test_malformed_yaml_names_file_and_line(capsys: pytest.CaptureFixture[str],
                                            cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    code, out, err = run(capsys, cluster, "apply", "-f", str(path))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {path}:")
    assert "malformed YAML" in err


@pytest.mark.parametrize("args", [
    ("delete", "-f", str(EXAMPLES / "gateway.yaml")),
    ("delete", "gtw", "api-gateway"),
    ("delete", "gatewayclass", "propylon"),
])
def test_delete_prints_and_fails_like_kubectl(capsys: pytest.CaptureFixture[str],
                                              cluster: Cluster, args: tuple[str, ...]) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(EXAMPLES))
    code, out, err = run(capsys, cluster, *args)
    assert (code, err) == (0, "")
    assert cluster.kubectl("get", "gateways,gatewayclasses", "-A", "-o", "name").stdout.count(
        "\n") == 1
    cluster.kubectl("apply", "--server-side", "-f", str(EXAMPLES))
    assert out == cluster.kubectl(*args).stdout
    code, out, err = run(capsys, cluster, *args)
    expected = cluster.kubectl(*args, check=False)
    assert (code, out) == (1, "")
    assert err == expected.stderr
