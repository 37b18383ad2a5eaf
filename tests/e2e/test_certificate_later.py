"""The cert-manager flow, end to end: the Gateway is applied before its certificate exists.

Until the Secret appears the HTTPS listener reports ResolvedRefs False / InvalidCertificateRef
and is not programmed, while the HTTP listener of the same Gateway serves; once the Secret is
created the same Envoy process (no restart) serves HTTPS with its certificate.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import BIN, REPO, Standalone, wait_for
from .test_walkthrough import (
    HOST,
    condition,
    http_get,
    https_get,
    make_cert,
    served_port,
    tls_secret_yaml,
)

pytestmark = pytest.mark.e2e


def listener(gateway: dict, name: str) -> dict:
    return next(li for li in gateway.get("status", {}).get("listeners", []) if li["name"] == name)


def listener_condition(gateway: dict, name: str, type_: str) -> tuple[str, str] | None:
    for cond in listener(gateway, name)["conditions"]:
        if cond["type"] == type_:
            return cond["status"], cond["reason"]
    return None


def test_secret_created_after_the_gateway(standalone: Standalone, tmp_path: Path) -> None:
    sa = standalone
    quickstart = REPO / "examples" / "quickstart"
    sa.start()
    sa.kubectl("apply", "-f", str(quickstart / "gatewayclass.yaml"))
    sa.kubectl("apply", "-f", str(REPO / "examples" / "https" / "gateway.yaml"))
    echo = subprocess.Popen([str(BIN / "propylon"), "echo", "--listen", sa.echo_listen],
                            env=dict(os.environ, POD_NAME="backend-1-local", NAMESPACE="default"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sa.kubectl("apply", "-f", "-", input=sa.app_manifest())
        gw = wait_for("the HTTPS listener reported without its Secret", lambda: (
            g := sa.get_json("gateway", "api-gateway")) and listener_condition(
                g, "https", "ResolvedRefs") == ("False", "InvalidCertificateRef")
            and g["status"].get("addresses") and g)
        assert listener_condition(gw, "https", "Programmed")[0] == "False"
        address = gw["status"]["addresses"][0]["value"]

        def http_ok() -> bool:
            status, body = http_get(address, served_port(80), HOST)
            return status == 200 and json.loads(body)["pod"] == "backend-1-local"
        wait_for("the HTTP listener serving meanwhile", http_ok)
        assert condition(sa.get_json("gateway", "api-gateway"), "Programmed") == "True"
        envoy_pids = sa.envoy_pids()

        cert, key, der = make_cert(tmp_path, "late")
        sa.kubectl("apply", "-f", "-", input=tls_secret_yaml(sa, cert, key))
        wait_for("HTTPS served once the Secret exists",
                 lambda: https_get(address, served_port(443), HOST, cert)[::2] == (200, der))
        gw = sa.get_json("gateway", "api-gateway")
        assert listener_condition(gw, "https", "ResolvedRefs") == ("True", "ResolvedRefs")
        assert listener_condition(gw, "https", "Programmed") == ("True", "Programmed")
        assert sa.envoy_pids() == envoy_pids
    finally:
        echo.terminate()
        echo.wait(timeout=10)
