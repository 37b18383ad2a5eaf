"""`propylon conformance`: replay the Gateway API conformance cases against standalone Propylon.

Cases come from `--cases DIR` (default `../shared/conformance/cases` relative to the current
directory; repeat it to run several folders in one run, whose report then covers them all),
manifests from `<cases>/../../gateway-api/conformance/`, or from the folder that
`<cases>/suite.yaml` names under `manifests:` relative to `../shared` (`shared_root`: the
GATEWAY-TCP and GATEWAY-UDP cases of `tests/data/conformance-l4` use the v1.6.1 release's); the
first folder's suite gives the base manifests and harness settings of the run; a folder of Envoy
Gateway's cases (`../shared/envoy-gateway/cases`, recognised by `<cases>/../e2e/`) takes its
manifests from `<cases>/../e2e/` and runs with the GatewayClass `envoy-gateway` of
`<cases>/../e2e/config/gatewayclass.yaml` made Propylon's, with the EnvoyProxy it references
(`suite_of`, which the run prints); a folder of ingress-nginx's cases
(`../shared/ingress-nginx/cases`, recognised by `<cases>/../ANNOTATIONS.md`) is run by
`propylon.cli.conformance_nginx` (`--migrate`: converted first). The command starts the
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
import contextlib
import datetime
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import yaml

from propylon.cli.errors import UsageError
from propylon.conformance import manifests, nginxcases
from propylon.conformance.backends import Backends
from propylon.conformance.cases import CaseError, load_cases, select_cases
from propylon.conformance.logqueries import collector_objects
from propylon.conformance.network import UNUSABLE_ADDRESS, RunNetwork, SlotTaken, claim
from propylon.conformance.report import (
    FAILED,
    NOT_SUPPORTED,
    SKIPPED,
    CaseResult,
    conformance_report,
    summary_line,
)
from propylon.conformance.requests import POLL_S
from propylon.conformance.runner import GATEWAY_CLASS, Harness
from propylon.conformance.sourceaddress import ClientAlias
from propylon.shared_data import shared_root
from propylon.standalone import Standalone, StandaloneOptions
from propylon.statedir import StateDirInUse

DEFAULT_CASES = Path("../shared/conformance/cases")
EG_GATEWAY_CLASS = "envoy-gateway"
EG_NAMESPACE = "envoy-gateway-system"  # where Envoy Gateway is installed; the base uses it


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("conformance",
                              help="run the Gateway API conformance cases against standalone Propylon")
    p.add_argument("--cases", type=Path, action="append", metavar="DIR",
                   help=f"case folder, repeatable (default {DEFAULT_CASES}, relative to the "
                        "current directory)")
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
    p.add_argument("--migrate", action="store_true",
                   help="ingress-nginx's cases: apply the output of `propylon migrate` instead "
                        "of the Ingress objects")
    p.set_defaults(func=run)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@dataclass(frozen=True)
class Suite:
    """Where a case folder's manifests are and how its harness behaves."""

    manifests_root: Path
    gateway_class: str
    retry_wait_s: float
    note: str = ""
    install: tuple[dict[str, Any], ...] = ()


def suite_of(cases_dir: Path, controller_name: str) -> Suite:
    """The Gateway API suite (`<cases>/../../gateway-api/conformance/`), or Envoy Gateway's when
    `<cases>/../e2e/base/manifests.yaml` exists (its README: GatewayClass `envoy-gateway`,
    1 s between failed tries, the namespace Envoy Gateway's install creates)."""
    eg = cases_dir.parent / "e2e"
    if (eg / "base" / "manifests.yaml").exists():
        return Suite(eg, EG_GATEWAY_CLASS, 1.0,
                     f"GatewayClass {EG_GATEWAY_CLASS} is created with Propylon's controllerName "
                     f"{controller_name} instead of Envoy Gateway's, with its EnvoyProxy (its "
                     "Accepted condition names the fields Propylon does not apply)",
                     ({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": EG_NAMESPACE}},
                      *eg_gateway_class(eg / "config" / "gatewayclass.yaml", controller_name),
                      *collector_objects()))
    declared = cases_dir / "suite.yaml"
    if declared.exists():
        relative = (yaml.safe_load(declared.read_text()) or {}).get("manifests")
        if not relative:
            raise UsageError(f"{declared} has no `manifests:` (a folder under ../shared)")
        return Suite(shared_root() / str(relative), GATEWAY_CLASS, POLL_S)
    return Suite(cases_dir.parent.parent / "gateway-api" / "conformance", GATEWAY_CLASS,
                 POLL_S)


def eg_gateway_class(path: Path, controller_name: str) -> list[dict[str, Any]]:
    """The EnvoyProxy that GatewayClass `envoy-gateway` of `path` (Envoy Gateway's CI install)
    references, if any, and that class with `controller_name`."""
    objects = [o for o in yaml.safe_load_all(path.read_text()) if isinstance(o, dict)]
    found = [o for o in objects
             if o.get("kind") == "GatewayClass" and o["metadata"]["name"] == EG_GATEWAY_CLASS]
    if not found:
        raise UsageError(f"{path} has no GatewayClass {EG_GATEWAY_CLASS}")
    spec = found[0]["spec"]
    ref = spec.get("parametersRef") or {}
    proxies = [o for o in objects if o.get("kind") == ref.get("kind") == "EnvoyProxy"
               and o["metadata"].get("name") == ref.get("name")
               and o["metadata"].get("namespace") == ref.get("namespace")]
    return [*proxies, {**found[0], "spec": {**spec, "controllerName": controller_name}}]


T = TypeVar("T")
SIGTERM_STOPPED = "stopped by SIGTERM: the stack and the backends it started are stopped"


def cancel_on_sigterm() -> None:
    """SIGTERM stops the run as Ctrl-C does: the running (main) task is cancelled, so the stack
    and every backend process it started are stopped on the way out (none is left running);
    `asyncio.run` then raises CancelledError, reported with `SIGTERM_STOPPED` and status 143."""
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)


def in_slot(args: argparse.Namespace, prefix: str,
            body: Callable[[Path, RunNetwork], Coroutine[Any, Any, T]]) -> T | None:
    """Run `body(state_dir, network)` in a loopback slot of its own (`--slot`, else a free one)
    and `--state-dir` or a temporary one; None when SIGTERM stopped it (said on stderr)."""
    try:
        slot = claim(args.slot)
    except SlotTaken as err:
        raise UsageError(str(err)) from None
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            return asyncio.run(body(args.state_dir or Path(tmp), slot.network))
    except asyncio.CancelledError:
        print(SIGTERM_STOPPED, file=sys.stderr)
        return None
    except StateDirInUse as err:
        raise UsageError(str(err)) from None
    finally:
        slot.release()


def run(args: argparse.Namespace) -> int:
    folders = [folder.resolve() for folder in args.cases or [DEFAULT_CASES]]
    if any(nginxcases.is_suite(folder) for folder in folders):
        if len(folders) > 1:
            raise UsageError("ingress-nginx's cases run on their own: pass only their --cases")
        from propylon.cli import conformance_nginx

        return conformance_nginx.run(args, folders[0])
    suites = [suite_of(folder, StandaloneOptions().controller_name) for folder in folders]
    suite = suites[0]
    for folder_suite in suites:
        root = folder_suite.manifests_root
        if not (root / "base" / "manifests.yaml").exists():
            raise UsageError(f"no suite manifests at {root}/base/manifests.yaml")
    try:
        loaded = [replace(case, manifests_root=folder_suite.manifests_root)
                  for folder, folder_suite in zip(folders, suites, strict=True)
                  for case in load_cases(folder)]
        cases = select_cases(loaded, _names(args.run), _names(args.feature), _names(args.skip))
    except CaseError as err:
        raise UsageError(str(err)) from None
    if suite.note:
        print(suite.note, flush=True)
    done = in_slot(args, "propylon-conformance-",
                   lambda state_dir, network: _run_all(cases, suite, state_dir, network, args))
    if done is None:
        return 128 + signal.SIGTERM
    results, supported = done
    _print(results, args.verbose)
    if args.report:
        profiles = [f for f in _names(args.feature) if f.startswith(("GATEWAY-", "MESH-"))]
        report = conformance_report(results, supported, _now(), _version(), profiles=profiles,
                                    url=args.url, contact=args.contact)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(yaml.safe_dump(report, sort_keys=True))
    print(summary_line(results))
    return 1 if any(r.result == FAILED for r in results) else 0


def xds_settled(stack: Standalone) -> bool:
    """Every Gateway's Envoys are connected and answered every xDS push."""
    return all(stack.xds.pending(node) == 0 for node in stack.cache.nodes())


SETTLE_S = 10.0


async def _run_all(cases: list[Any], suite: Suite, state_dir: Path, network: RunNetwork,
                   args: argparse.Namespace) -> tuple[list[CaseResult], list[str]]:
    cancel_on_sigterm()
    options = StandaloneOptions(address_pool=network.address_pool)
    async with Standalone(state_dir, options) as stack:
        backends = Backends(stack.client, state_dir / "pods", network.pod_network)
        rewrite = manifests.Rewrite(suite.gateway_class, options.controller_name,
                                    (network.usable_address,), (UNUSABLE_ADDRESS,))
        alias = ClientAlias(network.client_address)

        async def settled() -> None:
            """The controller idle, then every Gateway's Envoys holding what it published, for
            up to SETTLE_S (a Gateway without a connected Envoy is left to the requests'
            own retries)."""
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_S):
                    await stack.controller.wait_idle()
                    while not xds_settled(stack):
                        await asyncio.sleep(POLL_S)

        harness = Harness(stack.client, backends, suite.manifests_root, rewrite,
                          args.timeout_scale, state_dir, suite.retry_wait_s, suite.install,
                          alias, settled)
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
            try:
                await backends.close()
            finally:
                alias.remove()
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
