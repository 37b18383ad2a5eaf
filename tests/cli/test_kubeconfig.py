"""The CLI reads kubeconfigs as kubectl does: which file, which context, which credentials.

Every case runs `propylon get` and the real kubectl on the same kubeconfig against the embedded
API server and expects the same answer: contexts with inline or relative-file CAs, a token or a
token file, client certificates, `insecure-skip-tls-verify`, the context's namespace; and a
wrong token or a closed port fail as kubectl fails. What kubectl cannot be compared on (unknown
context, missing file) must name the entry or the file and the fix.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from propylon.cli.main import main
from propylon.pki import Policy, new_ca
from tests.certificates import proxy_client
from tests.cli.conftest import Cluster

OBJECTS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: in-shop, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: in-default, namespace: default}
"""
CONTEXTS = ("main", "relative-files", "insecure", "client-cert")


def write_kubeconfig(cluster: Cluster, path: Path, server: str | None = None) -> Path:
    """A kubeconfig of several contexts for the server `cluster` runs (or `server`), its files
    beside it in `certs/` and referred to by relative names."""
    served = yaml.safe_load(cluster.kubeconfig.read_text())
    ca_data = served["clusters"][0]["cluster"]["certificate-authority-data"]
    token = served["users"][0]["user"]["token"]
    url = server or served["clusters"][0]["cluster"]["server"]
    certs = path.parent / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "ca.pem").write_bytes(base64.b64decode(ca_data))
    (certs / "token").write_text(token + "\n")
    client = proxy_client(new_ca(Policy()), "default/client", Policy())
    (certs / "client.pem").write_bytes(client.cert)
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [
            {"name": "inline", "cluster": {"server": url, "certificate-authority-data": ca_data}},
            {"name": "from-file", "cluster": {"server": url,
                                              "certificate-authority": "certs/ca.pem"}},
            {"name": "unverified", "cluster": {"server": url, "insecure-skip-tls-verify": True}},
        ],
        "users": [
            {"name": "admin", "user": {"token": token}},
            {"name": "file-user", "user": {"tokenFile": "certs/token"}},
            {"name": "cert-user", "user": {
                "token": token, "client-certificate": "certs/client.pem",
                "client-key-data": base64.b64encode(client.key).decode()}},
            {"name": "stranger", "user": {"token": "not-the-token"}},
            {"name": "lost-cert", "user": {"client-certificate": "certs/absent.pem",
                                           "client-key": "certs/absent.key"}},
        ],
        "contexts": [
            {"name": "main", "context": {"cluster": "inline", "user": "admin",
                                         "namespace": "shop"}},
            {"name": "relative-files", "context": {"cluster": "from-file", "user": "file-user"}},
            {"name": "insecure", "context": {"cluster": "unverified", "user": "admin"}},
            {"name": "client-cert", "context": {"cluster": "inline", "user": "cert-user"}},
            {"name": "wrong-token", "context": {"cluster": "inline", "user": "stranger"}},
            {"name": "lost-cert", "context": {"cluster": "inline", "user": "lost-cert"}},
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def propylon(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def configured(cluster: Cluster, tmp_path: Path) -> Path:
    objects = tmp_path / "objects.yaml"
    objects.write_text(OBJECTS)
    cluster.kubectl("apply", "-f", str(objects))
    return write_kubeconfig(cluster, tmp_path / "home" / "config")


@pytest.mark.parametrize("context", CONTEXTS)
def test_each_context_answers_as_kubectl(capsys: pytest.CaptureFixture[str], cluster: Cluster,
                                         configured: Path, context: str) -> None:
    args = ("get", "configmaps", "-o", "name", "--context", context)
    code, out, err = propylon(capsys, *args, "--kubeconfig", str(configured))
    expected = cluster.kubectl("--kubeconfig", str(configured), *args)
    assert (code, err) == (0, "")
    assert out == expected.stdout
    # the context's namespace, else default
    assert ("configmap/in-shop" in out) == (context == "main")
    assert ("configmap/in-default" in out) == (context != "main")


def test_a_wrong_token_fails_as_kubectl_does(capsys: pytest.CaptureFixture[str],
                                             cluster: Cluster, configured: Path) -> None:
    args = ("get", "configmaps", "--context", "wrong-token")
    code, out, err = propylon(capsys, *args, "--kubeconfig", str(configured))
    expected = cluster.kubectl("--kubeconfig", str(configured), *args, check=False)
    assert (code, out) == (1, "")
    assert expected.returncode == 1
    assert err.startswith("error: You must be logged in to the server (")
    assert err.strip() == expected.stderr.strip().splitlines()[-1]


def test_a_closed_port_is_reported_as_kubectl_does(capsys: pytest.CaptureFixture[str],
                                                   cluster: Cluster, tmp_path: Path) -> None:
    config = write_kubeconfig(cluster, tmp_path / "closed" / "config", "https://127.0.0.1:1")
    code, out, err = propylon(capsys, "get", "configmaps", "--kubeconfig", str(config))
    expected = cluster.kubectl("--kubeconfig", str(config), "get", "configmaps", check=False)
    assert (code, out) == (1, "")
    assert err == ("The connection to the server 127.0.0.1:1 was refused - "
                   "did you specify the right host or port?\n")
    assert err.strip() == expected.stderr.strip().splitlines()[-1]


def test_unknown_context_names_the_known_ones(capsys: pytest.CaptureFixture[str],
                                              configured: Path) -> None:
    code, out, err = propylon(capsys, "get", "configmaps", "--context", "nope",
                              "--kubeconfig", str(configured))
    assert (code, out) == (1, "")
    assert err == (f"error: kubeconfig {configured}: contexts has no entry named 'nope' (known: "
                   f"{', '.join(CONTEXTS)}, wrong-token, lost-cert); fix the context or pass "
                   "--context NAME\n")


def test_a_missing_client_certificate_names_the_context_and_the_file(
        capsys: pytest.CaptureFixture[str], configured: Path) -> None:
    code, out, err = propylon(capsys, "get", "configmaps", "--context", "lost-cert",
                              "--kubeconfig", str(configured))
    assert (code, out) == (1, "")
    assert err == (f"error: kubeconfig {configured}: context 'lost-cert': client-certificate "
                   f"{configured.parent / 'certs' / 'absent.pem'} does not exist: fix the path "
                   "(a relative one is read from the kubeconfig's directory)\n")


def test_missing_file_says_how_to_get_one(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    code, out, err = propylon(capsys, "get", "gateways", "--kubeconfig", str(tmp_path / "absent"))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: the kubeconfig given {tmp_path / 'absent'} does not exist: "
                          "pass --kubeconfig PATH or set KUBECONFIG")


def test_kubeconfig_env_first_file_then_home(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch, configured: Path,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{configured}:{tmp_path}/nowhere")
    assert propylon(capsys, "get", "configmaps", "-o", "name") == (0, "configmap/in-shop\n", "")
    monkeypatch.delenv("KUBECONFIG")
    home = tmp_path / "user"
    (home / ".kube").mkdir(parents=True)
    shutil.copytree(configured.parent / "certs", home / ".kube" / "certs")
    shutil.copy(configured, home / ".kube" / "config")
    monkeypatch.setenv("HOME", str(home))
    assert propylon(capsys, "get", "configmaps", "-o", "name", "--context",
                    "relative-files") == (0, "configmap/in-default\n", "")
