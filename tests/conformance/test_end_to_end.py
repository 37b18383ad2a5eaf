"""End to end: real core cases through standalone Propylon, real Envoy and echo processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.conformance.sigterm import check_sigterm_stops_the_run, descendants
from tests.shared_data import shared

CASES = shared("conformance", "cases")
RUN = "HTTPRouteSimpleSameNamespace,HTTPRouteExactPathMatching,HTTPRouteInvalidNonExistentBackendRef"


def test_three_core_cases_pass_and_are_reported(tmp_path: Path) -> None:
    report_path = tmp_path / "report.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance", "--cases", str(CASES),
         "--run", RUN, "--report", str(report_path), "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "3 passed, 0 failed"
    report = yaml.safe_load(report_path.read_text())
    assert report["kind"] == "ConformanceReport"
    (profile,) = report["profiles"]
    assert profile["name"] == "GATEWAY-HTTP"
    assert profile["core"] == {"result": "success",
                               "statistics": {"Failed": 0, "Passed": 3, "Skipped": 0}}
    assert profile["summary"] == "Core tests succeeded."
    logs = list((tmp_path / "state" / "pods" / "gateway-conformance-infra").glob(
        "infra-backend-v1-*.log"))
    assert len(logs) == 2
    assert any("Echoing back request made to /" in log.read_text() for log in logs)


def test_sigterm_stops_every_process_the_run_started(tmp_path: Path) -> None:
    pods = tmp_path / "state" / "pods" / "gateway-conformance-infra"
    check_sigterm_stops_the_run(
        ["--cases", str(CASES), "--run", "HTTPRouteSimpleSameNamespace",
         "--state-dir", str(tmp_path / "state")],
        "the echo pods and Envoys to run",
        lambda pid: any(pods.glob("infra-backend-v1-*.log")) and len(descendants(pid)) >= 4)


def test_tcp_and_udp_cases_run_with_the_shared_ones_and_report_all_five_profiles(
        tmp_path: Path) -> None:
    """Two case folders in one run, each with its own suite manifests (the v1.6.1 TCPRoute and
    UDPRoute tests read ../shared's v1.6.1 copy); a Gateway-only test counts in every profile."""
    report_path = tmp_path / "report.yaml"
    l4 = Path(__file__).resolve().parents[1] / "data" / "conformance-l4" / "cases"
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance", "--cases", str(CASES),
         "--cases", str(l4), "--run",
         "GatewayObservedGenerationBump,TCPRouteParentRefPortAndSectionName,UDPRoute",
         "--report", str(report_path), "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "3 passed, 0 failed"
    report = yaml.safe_load(report_path.read_text())
    passed = {p["name"]: p["core"]["statistics"]["Passed"] for p in report["profiles"]}
    assert passed == {"GATEWAY-GRPC": 1, "GATEWAY-HTTP": 1, "GATEWAY-TLS": 1,
                      "GATEWAY-TCP": 2, "GATEWAY-UDP": 2}
    assert report["succeededProvisionalTests"] == ["TCPRouteParentRefPortAndSectionName",
                                                   "UDPRoute"]
    dns = list((tmp_path / "state" / "pods" / "gateway-conformance-infra").glob("coredns-*.log"))
    assert len(dns) == 1 and "foo.bar.com. udp\" NOERROR" in dns[0].read_text()
