"""End to end: real core cases through standalone Propylon, real Envoy and echo processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

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
