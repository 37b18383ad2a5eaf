"""The bootstrap must be accepted by the real Envoy binary and point it at the ADS server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from propylon.xds.bootstrap import bootstrap, unix_bootstrap


def test_bootstrap_identifies_node_and_targets_ads() -> None:
    bs = bootstrap("ns/gw", "127.0.0.1", 18000, 19001)
    assert bs["node"] == {"id": "ns/gw", "cluster": "propylon"}
    assert bs["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 19001}
    dyn = bs["dynamic_resources"]
    assert dyn["lds_config"]["ads"] == {} and dyn["cds_config"]["ads"] == {}
    endpoint = bs["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]
    assert endpoint["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] == 18000
    json.dumps(bs)  # plain data only


def test_standalone_bootstrap_reaches_xds_and_serves_admin_on_unix_sockets() -> None:
    bs = unix_bootstrap("ns/gw", Path("/state/sockets/xds.sock"), Path("/state/sockets/a.sock"))
    assert bs["admin"]["address"] == {"pipe": {"path": "/state/sockets/a.sock", "mode": 0o600}}
    xds = bs["static_resources"]["clusters"][0]
    assert xds["type"] == "STATIC" and "upstream_connection_options" not in xds
    endpoint = xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"] == {"pipe": {"path": "/state/sockets/xds.sock"}}


@pytest.mark.parametrize("host", ["127.0.0.1", "propylon-xds.propylon-system.svc", None])
def test_envoy_accepts_bootstrap(tmp_path: Path, host: str | None, envoy_bin: str) -> None:
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(
        bootstrap("ns/gw", host, 18000, 19001) if host is not None
        else unix_bootstrap("ns/gw", tmp_path / "xds.sock", tmp_path / "admin.sock")))
    proc = subprocess.run([envoy_bin, "--mode", "validate", "-c", str(path),
                           "--disable-hot-restart", "-l", "error"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
