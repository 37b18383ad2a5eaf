"""`propylon up`: the whole standalone gateway in the foreground.

It starts, and stops in the reverse order on Ctrl-C or SIGTERM, the
`propylon.standalone.Standalone` stack (embedded API server in a child process, xDS server, host
infrastructure, controller, optional echo backends with `--echo [[NAMESPACE/]SERVICE=]HOST:PORT`,
whose replies name SERVICE and which print no line per request unless `--echo-log`), then the manifest
sync (`-f PATH...`), which applies the manifests and keeps applying them as files change.

One `propylon up` runs per state directory: a second one prints "state dir DIR is in use by
propylon up (pid N)" and exits with 1 having touched nothing (`propylon.statedir`). If the API
server process keeps dying (see `apiserver.process`), `propylon up` stops and exits with 1.

A SIGKILL leaves the Envoys running: they keep serving their last configuration, and the next
`propylon up` on the same state directory adopts them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from propylon.cli import ingressflags
from propylon.echo.command import parse_backend
from propylon.statedir import StateDirInUse
from propylon.translate.types import DEFAULT_CONTROLLER_NAME

log = logging.getLogger("propylon.up")


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "propylon"


def _echo_backend(spec: str) -> str:
    """An `--echo` value, checked (argparse prints the ValueError's fix)."""
    try:
        parse_backend(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "up", help="run the standalone gateway (API server, controller, xDS, Envoy) in the foreground")
    p.add_argument("-f", "--filename", dest="paths", action="append", default=[], type=Path,
                   help="apply the manifests under PATH and keep applying them as files change")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where state, certificates and the kubeconfig live "
                        "(default $XDG_STATE_HOME/propylon or ~/.local/state/propylon)")
    p.add_argument("--api-port", type=int, default=0,
                   help="API server port on 127.0.0.1 (default: the port of the last run, or a free one)")
    p.add_argument("--address-pool", default="127.0.10.1-127.0.10.254",
                   help="loopback addresses handed to Gateways (default %(default)s)")
    p.add_argument("--privileged-port-offset", type=int, default=10000,
                   help="when ports below 1024 cannot be bound (not root), serve port P on P+OFFSET; "
                        "0 reports such listeners as not programmed instead (default %(default)s)")
    p.add_argument("--controller-name", default=DEFAULT_CONTROLLER_NAME,
                   help="GatewayClass controllerName handled (default %(default)s)")
    p.add_argument("--echo", action="append", default=[], type=_echo_backend,
                   metavar="[[NAMESPACE/]SERVICE=]HOST:PORT",
                   help="also run an echo backend on HOST:PORT, its replies naming SERVICE "
                        "(repeatable)")
    p.add_argument("--echo-log", action="store_true",
                   help="have the --echo backends print a line per request (off: they would "
                        "flood this log)")
    ingressflags.add_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # one line per HTTP request to the API server is noise
        for noisy in ("httpx", "httpx2", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    state_dir: Path = args.state_dir or default_state_dir()
    try:
        return asyncio.run(_up(args, state_dir))
    except StateDirInUse as err:
        print(err, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0


async def _up(args: argparse.Namespace, state_dir: Path) -> int:
    """Run until stopped (0) or until a part fails for good (1, its error logged)."""
    from propylon.manifests import ManifestSync
    from propylon.standalone import Standalone, StandaloneOptions

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    options = StandaloneOptions(api_port=args.api_port, address_pool=args.address_pool,
                                privileged_port_offset=args.privileged_port_offset,
                                controller_name=args.controller_name, echo=args.echo,
                                echo_log=args.echo_log, ingress=ingressflags.settings(args))
    async with Standalone(state_dir, options) as stack:
        assert stack.api.supervision is not None
        tasks = [stack.controller_task, stack.api.supervision]
        if args.paths:
            sync = ManifestSync(stack.client, args.paths, state_dir / "applied.json",
                                on_message=lambda line: print(line, flush=True))
            tasks.append(asyncio.create_task(sync.run(), name="manifest-sync"))
        _print_banner(stack.kubeconfig_path, args)
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        print("propylon: stopping", flush=True)
        failed = False
        for task in done:
            if task is not waiter and not task.cancelled() and task.exception():
                log.error("%s stopped: %s", task.get_name(), task.exception())
                failed = True
        for task in [waiter, *tasks[2:]]:
            task.cancel()
        await asyncio.gather(waiter, *tasks[2:], return_exceptions=True)
    return 1 if failed else 0


def _print_banner(kubeconfig: Path, args: argparse.Namespace) -> None:
    lines = [
        "propylon: standalone gateway is up",
        f"  kubeconfig: {kubeconfig}",
        "",
        "Try:",
    ]
    if sys.prefix != sys.base_prefix:  # installed in a virtualenv (`make`: .venv), not on PATH
        lines.append(f"  source {Path(sys.prefix) / 'bin' / 'activate'}"
                     "   # propylon and kubectl on PATH")
    lines += [
        f"  export KUBECONFIG={kubeconfig}",
        "  kubectl get gatewayclass,gateway,httproute -A",
    ]
    if args.paths:
        lines += [
            "  GATEWAY_IP=$(kubectl get gateway api-gateway -o jsonpath='{.status.addresses[0].value}')",
            '  curl -H "Host: app.yourdomain.com" http://$GATEWAY_IP/     # served by backend-1',
            '  curl -i -H "Host: unknown.example" http://$GATEWAY_IP/     # 404 from the Gateway',
        ]
        if os.geteuid() != 0 and args.privileged_port_offset:
            lines.append(f"  (not root: port 80 is served on {80 + args.privileged_port_offset};"
                         " add :PORT to the URLs, see README)")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)
