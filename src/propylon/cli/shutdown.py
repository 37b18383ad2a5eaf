"""`propylon proxy-shutdown-manager`: the sidecar of a Kubernetes-mode proxy pod.

`wait` is the container's process: until SIGTERM it serves the htpasswd check service on
127.0.0.1 (`propylon.basicauth`, the port of `propylon.htpasswd.service`), which the pod's Envoy
asks about basic auth users hashed with more than `{SHA}`; `drain` is its preStop hook, the
drain sequence of `propylon.infra.kubernetes.shutdown` against Envoy's admin on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from propylon.infra.kubernetes.lifecycle import DRAINED_FILE, Drain


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("proxy-shutdown-manager",
                              help="drain a proxy pod's Envoy before it stops (pod sidecar)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("wait", help="serve the htpasswd check service until SIGTERM (the "
                       "sidecar's process)")
    d = actions.add_parser("drain", help="fail readiness, drain listeners, wait for connections")
    d.add_argument("--admin", default="http://127.0.0.1:19000", help="Envoy's admin URL")
    d.add_argument("--drained-file", type=Path, default=Path(DRAINED_FILE),
                   help="written when done; the Envoy container's preStop hook waits for it")
    d.add_argument("--min-drain", type=float, default=Drain().min_drain_s,
                   help="seconds to keep serving while endpoints are updated")
    d.add_argument("--drain-timeout", type=float, default=Drain().drain_timeout_s,
                   help="seconds to wait at most for connections to close")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from propylon.infra.kubernetes import shutdown

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.action == "wait":
        asyncio.run(_serve_until_sigterm())
        return 0
    shutdown.drain(args.admin.rstrip("/"), args.drained_file, args.min_drain, args.drain_timeout)
    return 0


async def _serve_until_sigterm() -> None:
    from propylon.basicauth.server import BasicAuthServer
    from propylon.htpasswd import service

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = BasicAuthServer()
    await server.start("127.0.0.1", service.PORT)
    try:
        await stop.wait()
    finally:
        await server.stop()
