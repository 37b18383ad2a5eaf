"""The ConformanceReport (gateway.networking.k8s.io/v1) of a run, built like the Go suite.

Results are SUCCEEDED, FAILED, SKIPPED or NOT_SUPPORTED. A case counts toward each profile of its
`profiles` (`core` or `extended`: those its file names and those the suite's rule gives its
features, `propylon.conformance.profiles`); NOT_SUPPORTED cases are not listed. Per profile and level: statistics with capitalised keys (the Go struct has no json tags),
failed/skipped test lists, result = failure if any failed, else partial if any skipped, else
success; the summary sentence is Go's `buildSummary`. An `extended` section exists only when an
extended case of that profile was counted, and carries the profile's extended features split into
supported and unsupported by the GatewayClass's `supportedFeatures`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from propylon.conformance.cases import Case
from propylon.conformance.profiles import EXTENDED

SUCCEEDED, FAILED, SKIPPED, NOT_SUPPORTED = "SUCCEEDED", "FAILED", "SKIPPED", "NOT_SUPPORTED"

GATEWAY_API_VERSION = "v1.6.1"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    result: str
    reason: str = ""  # why it failed or was skipped


@dataclass
class _Level:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __post_init__(self) -> None:
        self.failed_tests: list[str] = []
        self.skipped_tests: list[str] = []

    @property
    def result(self) -> str:
        return "failure" if self.failed else "partial" if self.skipped else "success"

    def add(self, r: CaseResult) -> None:
        if r.result == SUCCEEDED:
            self.passed += 1
        elif r.result == FAILED:
            self.failed += 1
            self.failed_tests.append(r.case.name)
        elif r.result == SKIPPED:
            self.skipped += 1
            self.skipped_tests.append(r.case.name)

    def summary(self) -> str:
        if self.result == "success":
            return "succeeded"
        if self.result == "partial":
            return f"partially succeeded with {self.skipped} test skips"
        return f"failed with {self.failed} test failures"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result,
                               "statistics": {"Failed": self.failed, "Passed": self.passed,
                                              "Skipped": self.skipped}}
        if self.failed_tests:
            out["failedTests"] = self.failed_tests
        if self.skipped_tests:
            out["skippedTests"] = self.skipped_tests
        return out


def profile_reports(results: Sequence[CaseResult], supported: Iterable[str],
                    profiles: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The `profiles` list of the report, sorted by profile name; only `profiles` if given
    (the suite reports the profiles it was asked to run)."""
    supported, only = set(supported), set(profiles)
    levels: dict[str, dict[str, _Level]] = {}
    for r in results:
        if r.result == NOT_SUPPORTED:
            continue
        for profile, level in r.case.profiles.items():
            if level in ("core", "extended") and (not only or profile in only):
                levels.setdefault(profile, {"core": _Level()}).setdefault(level, _Level()).add(r)
    out = []
    for profile in sorted(levels):
        core, extended = levels[profile]["core"], levels[profile].get("extended")
        entry: dict[str, Any] = {"name": profile, "core": core.to_json()}
        summary = f"Core tests {core.summary()}"
        if extended is not None:
            features = EXTENDED.get(profile, ())
            entry["extended"] = {
                **extended.to_json(),
                "supportedFeatures": sorted(f for f in features if f in supported),
                "unsupportedFeatures": sorted(f for f in features if f not in supported),
            }
            summary += f". Extended tests {extended.summary()}"
        entry["summary"] = summary + "."
        out.append(entry)
    return out


def conformance_report(results: Sequence[CaseResult], supported: Iterable[str], date: str,
                       version: str, channel: str = "standard",
                       profiles: Iterable[str] = (), url: str = "",
                       contact: Sequence[str] = ()) -> dict[str, Any]:
    """The whole ConformanceReport document. `url` and `contact` are the project's home and
    maintainers' addresses, which an upstream submission requires; empty until given."""
    supported = list(supported)
    report: dict[str, Any] = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ConformanceReport",
        "implementation": {
            "organization": "propylon",
            "project": "propylon",
            "url": url,
            "version": version,
            "contact": list(contact),
        },
        "date": date,
        "gatewayAPIVersion": GATEWAY_API_VERSION,
        "gatewayAPIChannel": channel,
        "mode": "default",
        "profiles": profile_reports(results, supported, profiles),
    }
    provisional = sorted(r.case.name for r in results
                         if r.result == SUCCEEDED and r.case.provisional)
    if provisional:
        report["succeededProvisionalTests"] = provisional
    return report


def summary_line(results: Sequence[CaseResult]) -> str:
    """`N passed, N failed` with `, N skipped` when some were skipped."""
    counts = {k: sum(1 for r in results if r.result == k) for k in (SUCCEEDED, FAILED, SKIPPED)}
    line = f"{counts[SUCCEEDED]} passed, {counts[FAILED]} failed"
    return line + (f", {counts[SKIPPED]} skipped" if counts[SKIPPED] else "")
