"""`propylon conformance`: replay the Gateway API conformance cases against standalone Propylon.

Cases come from `--cases DIR` (default `../shared/conformance/cases` relative to the current
directory), manifests from `<cases>/../../gateway-api/conformance/`. The command starts the
standalone stack in-process (state in `--state-dir`, default a temporary directory), runs the
selected cases one after another (`propylon.conformance.runner`) in a loopback slot of its own
(`--slot`, else the lowest free one: see `propylon.conformance.network`, so runs can go in
parallel), prints each result, the
failures with their reasons, and a last line `N passed, N failed[, N skipped]`, and writes the
ConformanceReport YAML to `--report FILE` (with only the profiles named in `--feature`, if any,
as the suite reports only the profiles it runs). Exit status 1 when a selected case failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from propylon.cli.errors import UsageError
from propylon.conformance import manifests
from propylon.conformance.backends import Backends
from propylon.conformance.cases import CaseError, load_cases, select_cases
from propylon.conformance.network import UNUSABLE_ADDRESS, RunNetwork, SlotTaken, claim
from propylon.conformance.report import (
    FAILED,
    NOT_SUPPORTED,
    SKIPPED,
    CaseResult,
    conformance_report,
    summary_line,
)
from propylon.conformance.runner import Harness
from propylon.standalone import Standalone, StandaloneOptions
from propylon.statedir import StateDirInUse

DEFAULT_CASES = Path("../shared/conformance/cases")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("conformance",
                              help="run the Gateway API conformance cases against standalone Propylon")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, metavar="DIR",
                   help="case folder (default %(default)s, relative to the current directory)")
    p.add_argument("--report", type=Path, metavar="FILE", help="write the ConformanceReport here")
    p.add_argument("--run", default="", metavar="NAME,...", help="run only these cases")
    p.add_argument("--feature", default="", metavar="F,...",
                   help="run only cases with one of these features or profiles (GATEWAY-HTTP)")
    p.add_argument("--skip", default="", metavar="NAME,...", help="do not run these cases")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="standalone state directory (default: a temporary one)")
    p.add_argument("--slot", type=int, metavar="N",
                   help="use loopback range 127.N.0.0/16 (2..254) for Gateways and echo pods "
                        "(default: the lowest slot no other run holds)")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="F",
                   help="multiply the harness's status timeouts by F (default 1)")
    p.add_argument("--url", default="", help="the project's URL, for the report's implementation")
    p.add_argument("--contact", action="append", default=[], metavar="ADDRESS",
                   help="a maintainer contact for the report (repeatable)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every case's result")
    p.set_defaults(func=run)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def run(args: argparse.Namespace) -> int:
    cases_dir = args.cases.resolve()
    manifests_root = cases_dir.parent.parent / "gateway-api" / "conformance"
    try:
        cases = select_cases(load_cases(cases_dir), _names(args.run), _names(args.feature),
                             _names(args.skip))
    except CaseError as err:
        raise UsageError(str(err)) from None
    if not (manifests_root / "base" / "manifests.yaml").exists():
        raise UsageError(f"no suite manifests at {manifests_root}/base/manifests.yaml")
    try:
        slot = claim(args.slot)
    except SlotTaken as err:
        raise UsageError(str(err)) from None
    try:
        with tempfile.TemporaryDirectory(prefix="propylon-conformance-") as tmp:
            state_dir = args.state_dir or Path(tmp)
            results, supported = asyncio.run(_run_all(cases, manifests_root, state_dir,
                                                      slot.network, args))
    except StateDirInUse as err:
        raise UsageError(str(err)) from None
    finally:
        slot.release()
    _print(results, args.verbose)
    if args.report:
        profiles = [f for f in _names(args.feature) if f.startswith(("GATEWAY-", "MESH-"))]
        report = conformance_report(results, supported, _now(), _version(), profiles=profiles,
                                    url=args.url, contact=args.contact)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(yaml.safe_dump(report, sort_keys=True))
    print(summary_line(results))
    return 1 if any(r.result == FAILED for r in results) else 0


async def _run_all(cases: list[Any], manifests_root: Path, state_dir: Path, network: RunNetwork,
                   args: argparse.Namespace) -> tuple[list[CaseResult], list[str]]:
    options = StandaloneOptions(address_pool=network.address_pool)
    async with Standalone(state_dir, options) as stack:
        backends = Backends(stack.client, state_dir / "pods", network.pod_network)
        rewrite = manifests.Rewrite("gateway-conformance", options.controller_name,
                                    (network.usable_address,), (UNUSABLE_ADDRESS,))
        harness = Harness(stack.client, backends, manifests_root, rewrite, args.timeout_scale)
        try:
            await harness.setup()
            results = []
            for case in cases:
                result = await harness.run_case(case)
                results.append(result)
                if args.verbose:
                    print(f"{result.result:<13} {case.name}"
                          + (f": {result.reason}" if result.reason and result.result != NOT_SUPPORTED else ""),
                          flush=True)
        finally:
            await backends.close()
    return results, harness.supported


def _print(results: list[CaseResult], verbose: bool) -> None:
    failed = [r for r in results if r.result == FAILED]
    skipped = [r for r in results if r.result == SKIPPED]
    unsupported = [r for r in results if r.result == NOT_SUPPORTED]
    if failed:
        print("\nFailures:")
        for r in failed:
            print(f"  {r.case.name}: {r.reason}")
    if skipped:
        print("\nSkipped:")
        for r in skipped:
            print(f"  {r.case.name}: {r.reason}")
    if unsupported:
        print(f"\n{len(unsupported)} not supported (features not in the GatewayClass's "
              "supportedFeatures, not in the report)" + (
                  ": " + ", ".join(r.case.name for r in unsupported) if verbose else ""))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    try:
        return f"v{version('propylon')}"
    except PackageNotFoundError:
        return "v0.0.0"
