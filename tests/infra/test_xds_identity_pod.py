"""The proxy pod's xDS identity as rendered: a projected ServiceAccount token, the xDS agent as
a native sidecar Envoy waits for, the certificate in an in-memory emptyDir that Envoy reads by
file-based SDS (the rendered bootstrap, with the agent's files, passes `envoy --mode validate`),
no Secret, and a CA bundle that changes without rolling the pods."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from propylon import pki
from propylon.infra.kubernetes import agent
from propylon.infra.kubernetes.resources import (
    BOOTSTRAP_DIR,
    BOOTSTRAP_KEY,
    CA_KEY,
    CERT_DIR,
    gateway_objects,
)
from tests.certificates import proxy_client
from tests.e2e.conftest import BIN
from tests.infra.test_proxy_pods import IR, OPTIONS, OWNER, with_parameters

XDS_HOST = "propylon-xds.propylon-system.svc"


def render(bundle: str) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in gateway_objects(IR, OWNER, XDS_HOST, 18000, OPTIONS, bundle)}


def test_the_pod_trades_a_projected_token_for_its_certificate() -> None:
    objects = render("BUNDLE")
    assert "Secret" not in objects
    assert objects["ConfigMap"]["data"][CA_KEY] == "BUNDLE"
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    [token] = volumes["xds-token"]["projected"]["sources"]
    assert token["serviceAccountToken"]["audience"] == agent.AUDIENCE
    assert 600 <= token["serviceAccountToken"]["expirationSeconds"] <= 3600
    assert volumes["xds-tls"]["emptyDir"]["medium"] == "Memory"
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]

    [sidecar] = pod["initContainers"]  # started, and probed, before the containers
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar: stops after Envoy
    assert sidecar["startupProbe"]["exec"]["command"] == ["test", "-s", f"{CERT_DIR}/tls.crt"]
    args = sidecar["command"]
    assert args[:2] == ["propylon", "proxy-xds-agent"]
    flags = dict(zip(args[2::2], args[3::2], strict=True))
    assert flags["--issuer"] == f"https://{XDS_HOST}:{OPTIONS.issuer_port}{agent.ISSUER_PATH}"
    mounts = {m["name"]: m for m in sidecar["volumeMounts"]}
    assert flags["--token-file"].startswith(mounts["xds-token"]["mountPath"] + "/")
    assert flags["--ca-file"] == f"{mounts['bootstrap']['mountPath']}/{CA_KEY}"
    assert flags["--cert-dir"] == mounts["xds-tls"]["mountPath"] == CERT_DIR
    assert not mounts["xds-tls"].get("readOnly")

    [envoy] = [c for c in pod["containers"] if c["name"] == "envoy"]
    envoy_mounts = {m["name"]: m for m in envoy["volumeMounts"]}
    assert envoy_mounts["xds-tls"] == {"name": "xds-tls", "mountPath": CERT_DIR,
                                       "readOnly": True}
    assert "xds-token" not in envoy_mounts  # only the agent sees the token


def test_a_new_ca_bundle_updates_the_configmap_without_rolling_the_pods() -> None:
    before, after = render("OLD"), render("OLD+NEXT")
    assert after["ConfigMap"]["data"][CA_KEY] == "OLD+NEXT"
    assert before["Deployment"] == after["Deployment"]


def test_envoy_validates_the_bootstrap_with_the_agents_files(tmp_path: Path) -> None:
    root = tmp_path / "etc"
    data = render("unused")["ConfigMap"]["data"]
    (bootstrap_dir := root / "bootstrap").mkdir(parents=True)
    for name, text in data.items():
        (bootstrap_dir / name).write_text(text.replace("/etc/propylon", str(root)))
    ca = pki.new_ca(pki.Policy())
    client = proxy_client(ca, str(IR.key), pki.Policy())
    (cert_dir := root / "xds-tls").mkdir()
    agent.write(cert_dir, {"tls.crt": client.cert, "tls.key": client.key, "ca.crt": ca.cert})
    assert (cert_dir / "tls.key").stat().st_mode & 0o777 == 0o600
    assert BOOTSTRAP_DIR.startswith("/etc/propylon") and CERT_DIR.startswith("/etc/propylon")
    result = subprocess.run(
        [str(BIN / "envoy"), "--mode", "validate", "-c", str(bootstrap_dir / BOOTSTRAP_KEY)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_agent_writes_the_key_as_envoys_user() -> None:
    ir = with_parameters({"securityContext": {"runAsUser": 1234, "runAsGroup": 1234}})
    [deployment] = [o for o in gateway_objects(ir, OWNER, XDS_HOST, 18000, OPTIONS, "BUNDLE")
                    if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [sidecar] = pod["initContainers"]
    [envoy] = [c for c in pod["containers"] if c["name"] == "envoy"]
    assert sidecar["securityContext"] == envoy["securityContext"]
    assert sidecar["securityContext"]["runAsUser"] == 1234
