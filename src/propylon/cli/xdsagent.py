"""`propylon proxy-xds-agent`: the xDS agent of a Kubernetes-mode proxy pod (a native sidecar).

It trades the pod's projected ServiceAccount token for its Gateway's xDS client certificate at
the controller's certificate endpoint and keeps it renewed in the directory Envoy reads
(`propylon.infra.kubernetes.agent`), until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("proxy-xds-agent",
                              help="obtain and renew a proxy pod's xDS client certificate")
    p.add_argument("--issuer", required=True, metavar="URL",
                   help="the controller's certificate endpoint (https://HOST:PORT/v1/...)")
    p.add_argument("--token-file", type=Path, required=True,
                   help="the projected ServiceAccount token")
    p.add_argument("--ca-file", type=Path, required=True,
                   help="the controller's CA bundle (verifies the endpoint)")
    p.add_argument("--cert-dir", type=Path, required=True,
                   help="where tls.crt, tls.key and ca.crt are written for Envoy")
    p.add_argument("--check-interval", type=float, default=None, metavar="SECONDS",
                   help="how often renewal and the CA bundle are checked (default 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from propylon.infra.kubernetes.agent import CHECK_S, AgentConfig
    from propylon.infra.kubernetes.agent import run as run_agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_agent(AgentConfig(args.issuer, args.token_file, args.ca_file, args.cert_dir,
                          args.check_interval or CHECK_S), stop)
    return 0
