"""The CLI reads kubeconfigs as kubectl does: which file, which context, which credentials."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from propylon.cli.kubeconfig import KubeconfigError, find_kubeconfig, load

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: main
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: {ca}
- name: other
  cluster:
    server: https://127.0.0.2:6443
    certificate-authority: certs/ca.pem
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: secret-token
- name: cert-user
  user:
    client-certificate: certs/client.pem
    client-key-data: {key}
contexts:
- name: main
  context: {{cluster: local, user: admin, namespace: shop}}
- name: second
  context: {{cluster: other, user: cert-user}}
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(b"CA FILE")
    (tmp_path / "certs" / "client.pem").write_bytes(b"CLIENT CERT")
    path = tmp_path / "config"
    path.write_text(KUBECONFIG.format(ca=base64.b64encode(b"CA DATA").decode(),
                                      key=base64.b64encode(b"CLIENT KEY").decode()))
    return path


def test_current_context_gives_server_namespace_token_and_inline_ca(kubeconfig: Path) -> None:
    config = load(kubeconfig)
    assert config.server == "https://127.0.0.1:6443"
    assert config.namespace == "shop"
    assert config.token == "secret-token"
    assert config.ca_data == b"CA DATA"
    assert not config.insecure


def test_context_flag_with_files_relative_to_the_kubeconfig(kubeconfig: Path) -> None:
    config = load(kubeconfig, "second")
    assert config.namespace == "default"
    assert config.ca_data == b"CA FILE"
    assert config.insecure
    assert (config.client_cert, config.client_key) == (b"CLIENT CERT", b"CLIENT KEY")


def test_unknown_context_names_the_known_ones(kubeconfig: Path) -> None:
    with pytest.raises(KubeconfigError, match="no entry named 'nope' \\(known: main, second\\)"):
        load(kubeconfig, "nope")


def test_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="does not exist: start the API server"):
        load(tmp_path / "absent")


def test_kubeconfig_env_first_file_then_home(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert find_kubeconfig() == tmp_path / "a"
    assert find_kubeconfig(Path("/explicit")) == Path("/explicit")
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_kubeconfig() == tmp_path / ".kube" / "config"
