"""The JSONPath templates of `propylon get -o jsonpath=` print exactly what kubectl prints.

Every template is rendered by `propylon.jsonpath` and by the real kubectl, which can evaluate a
template offline with `kubectl annotate --local -f FILE -o jsonpath=...`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from propylon import jsonpath

KUBECTL = Path(sys.executable).parent / "kubectl"

GATEWAY: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "api-gateway", "namespace": "default",
                 "labels": {"app": "shop", "app.kubernetes.io/name": "edge"},
                 "annotations": {"x": "y"}},
    "spec": {"gatewayClassName": "propylon",
             "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"},
                           {"name": "https", "port": 443, "protocol": "HTTPS"}]},
    "status": {"addresses": [{"type": "IPAddress", "value": "127.0.10.1"}],
               "weight": 1.5, "ready": True, "note": None, "html": "<b>&",
               "conditions": [
                   {"type": "Accepted", "status": "True", "observedGeneration": 1},
                   {"type": "Programmed", "status": "False", "observedGeneration": 2}]},
}

TEMPLATES = [
    "{.metadata.name}",
    "name={.metadata.name} labels={.metadata.labels}",
    "{.spec.listeners[*].port}",
    "{.spec.listeners[0].name} {.spec.listeners[-1].name}",
    "{.spec.listeners[0:1]}",
    "{.spec.listeners[1:]}",
    '{.status.conditions[?(@.type=="Programmed")].status}',
    "{.status.conditions[?(@.type!='Programmed')].type}",
    "{.status.conditions[?(@.observedGeneration>1)].type}",
    "{.status.conditions[?(@.missing)].type}",
    "{.status.conditions[?(@.status)].type}",
    "{range .spec.listeners[*]}{.name}:{.port}{\"\\n\"}{end}",
    "{range .status.conditions[*]}{.type}={.status};{end}",
    "{.status.weight} {.status.ready} {.status.note} {.status.html}",
    "{.missing}{.metadata.missing.deeper}",
    "{..port}",
    "{.metadata.labels['app\\.kubernetes\\.io/name']}",
    "{.metadata.labels.app\\.kubernetes\\.io/name}",
    "{.metadata['name','namespace']}",
    "{$.kind}{\"\\t\"}{@.apiVersion}",
    "{.spec}",
    "plain text only",
]


def kubectl_render(tmp_path: Path, obj: dict[str, Any],
                   template: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps(obj))
    return subprocess.run(
        [str(KUBECTL), "annotate", "--local", "-f", str(path), "x=y", "--kubeconfig", "/dev/null",
         "-o", f"jsonpath={template}"], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("template", TEMPLATES)
def test_render_matches_kubectl(tmp_path: Path, template: str) -> None:
    expected = kubectl_render(tmp_path, GATEWAY, template)
    assert expected.returncode == 0, expected.stderr
    assert jsonpath.render(template, GATEWAY) == expected.stdout


def test_wildcard_on_a_map_gives_values_in_key_order(tmp_path: Path) -> None:
    expected = kubectl_render(tmp_path, GATEWAY, "{.metadata.labels.*}")
    assert sorted(expected.stdout.split()) == sorted(["shop", "edge"])  # kubectl: random order
    assert jsonpath.render("{.metadata.labels.*}", GATEWAY) == "shop edge"


@pytest.mark.parametrize("template", ["{.spec.listeners[5]}", "{.spec.gatewayClassName[0]}"])
def test_evaluation_errors_match_kubectl(tmp_path: Path, template: str) -> None:
    expected = kubectl_render(tmp_path, GATEWAY, template)
    assert expected.returncode == 1
    with pytest.raises(jsonpath.JSONPathError) as err:
        jsonpath.render(template, GATEWAY)
    assert expected.stderr.splitlines()[0].startswith("error: " + str(err.value))


@pytest.mark.parametrize("template", ["{.a", "{range .items[*]}{.x}", "{end}", "{.a[0}"])
def test_parse_errors_name_the_template(template: str) -> None:
    with pytest.raises(jsonpath.JSONPathError, match="error parsing jsonpath"):
        jsonpath.parse(template)


def test_unclosed_action_message_is_kubectls(tmp_path: Path) -> None:
    expected = kubectl_render(tmp_path, GATEWAY, "{.a")
    with pytest.raises(jsonpath.JSONPathError) as err:
        jsonpath.parse("{.a")
    assert expected.stderr.strip() == f"error: {err.value}"


def test_missing_field_is_an_error_when_missing_keys_are_not_allowed() -> None:
    with pytest.raises(jsonpath.JSONPathError, match="missing is not found"):
        jsonpath.render("{.metadata.missing}", GATEWAY, allow_missing=False)


def test_find_returns_values_for_printer_columns() -> None:
    assert jsonpath.find(".status.addresses[*].value", GATEWAY) == ["127.0.10.1"]
    assert jsonpath.find('{.status.conditions[?(@.type=="Accepted")].status}', GATEWAY) == ["True"]
    assert jsonpath.find(".spec.listeners[*].port", GATEWAY) == [80, 443]
    assert jsonpath.find(".status.nothing", GATEWAY) == []
