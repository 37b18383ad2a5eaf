"""Connection flags shared by the commands that talk to an API server.

`add_connection_args()` adds `--kubeconfig` and `--context`; `connect()` turns the parsed flags
into an `APIClient` and the namespace to use (`-n`, else the context's namespace, else
"default"). The commands let `KubeconfigError`, `ConnectionFailed` and `APIError` propagate;
`propylon.cli.main` prints them as kubectl does and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from propylon.cli.apiclient import APIClient
from propylon.cli.kubeconfig import find_kubeconfig, load


def add_connection_args(parser: Any) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="kubeconfig file (default: first file of $KUBECONFIG, "
                             "else ~/.kube/config)")
    parser.add_argument("--context", default=None,
                        help="kubeconfig context to use (default: its current-context)")


def add_namespace_arg(parser: Any) -> None:
    parser.add_argument("-n", "--namespace", default=None,
                        help="namespace (default: the context's, else default)")


def connect(args: argparse.Namespace) -> tuple[APIClient, str]:
    config = load(find_kubeconfig(args.kubeconfig), args.context)
    return APIClient(config), getattr(args, "namespace", None) or config.namespace
