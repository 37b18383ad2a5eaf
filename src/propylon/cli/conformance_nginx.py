"""`propylon conformance --cases ../shared/ingress-nginx/cases [--migrate]`: ingress-nginx's cases.

`propylon conformance` hands a folder of ingress-nginx's cases (`nginxcases.is_suite`) here.
The standalone stack starts in a loopback slot of its own with an address pool of one address,
so every Gateway of the run (the one the Ingress objects are served through, or the one their
conversion makes) has the address the cases call `${gatewayIP}`; its controller serves the
IngressClass `propylon` (controller `propylon.dev/ingress-controller`) and reads the
ingress-nginx ConfigMap `ingress-nginx/ingress-nginx-controller` the cases' `ControllerConfig`
fills. The cases run one after another (`nginxrunner`): served directly, or with `--migrate`
converted by the conversion `propylon migrate` runs and only its output applied (with the
GatewayClass `propylon` of Propylon's controller the converted Gateways name, which a user of
`propylon migrate` creates once). It prints each
result with `-v`, the failures and skips with their reasons, and `N passed, N failed[, N
skipped]`; exit status 1 when a case failed. SIGTERM stops the run as in
`propylon conformance` (`cancel_on_sigterm`): the stack, its Envoys and every backend stop.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from propylon.cli.conformance import cancel_on_sigterm, in_slot, xds_settled
from propylon.cli.errors import UsageError
from propylon.conformance import nginxcases, nginxrunner
from propylon.conformance.backends import Backends
from propylon.conformance.cases import CaseError
from propylon.conformance.network import RunNetwork
from propylon.conformance.report import FAILED, SKIPPED, CaseResult, summary_line
from propylon.ingress.convert import MIGRATE, convert
from propylon.standalone import Standalone, StandaloneOptions
from propylon.translate.types import IngressSettings


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.split(",") if n.strip()}


def run(args: argparse.Namespace, cases_dir: Path) -> int:
    try:
        cases = nginxcases.load(cases_dir)
    except CaseError as err:
        raise UsageError(str(err)) from None
    run_names, skip = _names(args.run), _names(args.skip)
    unknown = run_names - {c.name for c in cases}
    if unknown:
        raise UsageError(f"no case named {', '.join(sorted(unknown))}")
    cases = [c for c in cases if (not run_names or c.name in run_names) and c.name not in skip]
    results = in_slot(args, "propylon-ingress-nginx-",
                      lambda state_dir, network: _run_all(cases, state_dir, network, args))
    if results is None:
        return 128 + signal.SIGTERM
    for label, kind in (("Failures", FAILED), ("Skipped", SKIPPED)):
        chosen = [r for r in results if r.result == kind]
        if chosen:
            print(f"\n{label}:")
            for r in chosen:
                print(f"  {r.case.name}: {r.reason}")
    print(summary_line(results))
    return 1 if any(r.result == FAILED for r in results) else 0


def _converter(ingress_class: str) -> nginxrunner.Convert:
    """What `--migrate` applies instead of a case's objects: the conversion's output."""
    klass = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
             "metadata": {"name": ingress_class},
             "spec": {"controller": nginxrunner.INGRESS_CONTROLLER}}

    def converted(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [dict(o) for o in convert([klass, *objects], MIGRATE).objects]
    return converted


async def _run_all(cases: list[nginxcases.NginxCase], state_dir: Path, network: RunNetwork,
                   args: argparse.Namespace) -> list[CaseResult]:
    cancel_on_sigterm()
    address = network.usable_address
    options = StandaloneOptions(
        address_pool=f"{address}-{address}",
        ingress=IngressSettings(
            configmap=f"{nginxrunner.CONFIGMAP_NAMESPACE}/{nginxrunner.CONFIGMAP_NAME}"))
    async with Standalone(state_dir, options) as stack:
        backends = Backends(stack.client, state_dir / "pods", network.pod_network)

        gateway_class = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                         "metadata": {"name": MIGRATE.gateway_class},
                         "spec": {"controllerName": options.controller_name}}
        async def idle() -> None:
            """The controller idle; an error naming why when its task ended instead."""
            waiting = asyncio.ensure_future(stack.controller.wait_idle())
            try:
                await asyncio.wait({waiting, stack.controller_task},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if stack.controller_task.done():
                error = None if stack.controller_task.cancelled() else \
                    stack.controller_task.exception()
                raise RuntimeError(f"the controller stopped: {error!r}")

        harness = nginxrunner.NginxHarness(
            stack.client, backends, address, idle, lambda: xds_settled(stack),
            *((_converter(nginxrunner.INGRESS_CLASS), gateway_class) if args.migrate else ()))
        try:
            await harness.setup()
            results = []
            for index, case in enumerate(cases):
                result = await harness.run_case(case, index)
                results.append(result)
                if args.verbose:
                    print(f"{result.result:<13} {case.name}"
                          + (f": {result.reason}" if result.reason else ""), flush=True)
        finally:
            await backends.close()
    return results
