"""Connection flags shared by the commands that talk to an API server.

`add_connection_args()` adds `--kubeconfig` and `--context`; `connect()` turns the parsed flags
into a `propylon.client.KubeClient` (the kubeconfig found as kubectl finds it, see
`propylon.client.load_kubeconfig`) and the namespace to use (`-n`, else the context's
namespace, else "default"), and closes the client when the command is done. The commands let
`ClientConfigError`, `KubeUnreachable` and `KubeError` propagate; `propylon.cli.main` prints
them as kubectl does and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from propylon.client import KubeClient, load_client


def add_connection_args(parser: Any) -> None:
    parser.add_argument("--kubeconfig", type=Path, default=None,
                        help="kubeconfig file (default: first file of $KUBECONFIG, "
                             "else ~/.kube/config)")
    parser.add_argument("--context", default=None,
                        help="kubeconfig context to use (default: its current-context)")


def add_namespace_arg(parser: Any) -> None:
    parser.add_argument("-n", "--namespace", default=None,
                        help="namespace (default: the context's, else default)")


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[KubeClient, str]]:
    client = load_client(args.kubeconfig, args.context)
    try:
        yield client, getattr(args, "namespace", None) or client.namespace
    finally:
        await client.close()
