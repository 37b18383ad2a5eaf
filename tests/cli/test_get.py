"""`propylon get` against the real embedded API server prints what kubectl prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from propylon.cli.main import main
from tests.cli.conftest import Cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
SECOND_GATEWAY = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop-gateway, namespace: shop, labels: {team: shop}}
spec:
  gatewayClassName: propylon
  listeners: [{name: http, protocol: HTTP, port: 8080}]
"""


def _without_age(text: str) -> str:
    """Blank out AGE cells (anywhere in a row: wide output has columns after AGE), whose value
    depends on when each command ran."""
    return re.sub(r"(?<=\s)\d+(s|m|h|d)(\d+(s|m))?(?=\s|$)", "AGE", text, flags=re.M)


@pytest.fixture
def objects(cluster: Cluster, tmp_path: Path) -> Cluster:
    extra = tmp_path / "shop.yaml"
    extra.write_text(SECOND_GATEWAY)
    cluster.kubectl("apply", "-f", str(EXAMPLES))
    cluster.kubectl("apply", "-f", str(extra))
    return cluster


def run(capsys: pytest.CaptureFixture[str], cluster: Cluster, *args: str) -> tuple[int, str, str]:
    code = main(list(args) + ["--kubeconfig", str(cluster.kubeconfig)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", [
    ("get", "gateways"),
    ("get", "gtw", "-A"),
    ("get", "gatewayclass", "-o", "wide"),
    ("get", "gateway", "api-gateway"),
    ("get", "svc", "-o", "name"),
    ("get", "gateways.gateway.networking.k8s.io", "-A", "-l", "team=shop", "-o", "name"),
    ("get", "httproute", "-o", "yaml"),
    ("get", "gateway", "api-gateway", "-o", "json"),
    ("get", "gateway", "-n", "shop", "-o", "jsonpath={.items[*].spec.listeners[0].port}"),
    ("get", "gtw", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"),
])
def test_output_matches_kubectl(capsys: pytest.CaptureFixture[str], objects: Cluster,
                                args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, objects, *args)
    expected = objects.kubectl(*args)
    assert code == 0, err
    assert _without_age(out) == _without_age(expected.stdout)


@pytest.mark.parametrize("args", [
    ("get", "httproutes", "-n", "shop"),
    ("get", "gateways", "-A", "-l", "team=nobody"),
    ("get", "httproutes", "-n", "shop", "-o", "name"),
    ("get", "httproutes", "-n", "shop", "-o", "yaml"),
])
def test_empty_results_say_so_on_stderr(capsys: pytest.CaptureFixture[str], objects: Cluster,
                                        args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, objects, *args)
    expected = objects.kubectl(*args)
    assert (code, out, err) == (0, expected.stdout, expected.stderr)


@pytest.mark.parametrize("args", [
    ("get", "gateway", "missing"),
    ("get", "foo"),
])
def test_errors_match_kubectl(capsys: pytest.CaptureFixture[str], objects: Cluster,
                              args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, objects, *args)
    expected = objects.kubectl(*args, check=False)
    assert (code, out) == (1, "")
    assert expected.returncode == 1
    assert err.strip() == expected.stderr.strip().splitlines()[-1]


def test_console_script_reads_kubeconfig_from_the_environment(objects: Cluster) -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "propylon"), "get", "gateway",
                             "api-gateway", "-o", "json"], capture_output=True, text=True,
                            timeout=60, env={"KUBECONFIG": f"{objects.kubeconfig}:/nowhere",
                                             "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["spec"]["gatewayClassName"] == "propylon"
