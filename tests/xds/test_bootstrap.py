"""The bootstrap must be accepted by the real Envoy binary and point it at the ADS server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from propylon.xds.bootstrap import bootstrap


def test_bootstrap_identifies_node_and_targets_ads() -> None:
    bs = bootstrap("ns/gw", "127.0.0.1", 18000, 19001)
    assert bs["node"] == {"id": "ns/gw", "cluster": "propylon"}
    assert bs["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 19001}
    dyn = bs["dynamic_resources"]
    assert dyn["lds_config"]["ads"] == {} and dyn["cds_config"]["ads"] == {}
    endpoint = bs["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]
    assert endpoint["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] == 18000
    json.dumps(bs)  # plain data only


@pytest.mark.parametrize("host", ["127.0.0.1", "propylon-xds.propylon-system.svc"])
def test_envoy_accepts_bootstrap(tmp_path: Path, host: str, envoy_bin: str) -> None:
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(bootstrap("ns/gw", host, 18000, 19001)))
    proc = subprocess.run([envoy_bin, "--mode", "validate", "-c", str(path),
                           "--disable-hot-restart", "-l", "error"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
