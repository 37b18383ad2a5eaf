"""`python -m propylon.apiserver --state-dir DIR [--port N] [--no-builtin-gateway-api]
[--audit-log FILE]`: run the API server alone (without the Gateway API kinds, like a cluster
before its CRDs are applied; recording every resource request it serves in FILE).

Prints the URL and kubeconfig path, then serves until interrupted. Like `propylon up`, it creates
its files with umask 0o077: the database holds every Secret, the state directory the server's keys.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from propylon.apiserver.audit import JsonLines
from propylon.apiserver.server import APIServer
from propylon.statedir import PRIVATE_UMASK


async def _serve(state_dir: Path, port: int, builtin_gateway_api: bool,
                 audit_log: Path | None) -> None:
    server = APIServer(state_dir, port=port, builtin_gateway_api=builtin_gateway_api,
                       audit=JsonLines(audit_log) if audit_log else None)
    await server.start()
    print(f"serving {server.url}\nkubeconfig: {server.kubeconfig_path}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m propylon.apiserver",
                                     description="Run Propylon's embedded API server.")
    parser.add_argument("--state-dir", type=Path, required=True,
                        help="directory for state.db, certificates and the kubeconfig")
    parser.add_argument("--port", type=int, default=0,
                        help="port on 127.0.0.1 (default: the saved one, else a free one)")
    parser.add_argument("--no-builtin-gateway-api", dest="builtin_gateway_api",
                        action="store_false",
                        help="serve only core kinds: apply the Gateway API CRDs as on a cluster")
    parser.add_argument("--audit-log", type=Path, default=None,
                        help="append every resource request (verb, group, resource, namespace, "
                             "subresource, name) to this file as JSON lines")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    os.umask(PRIVATE_UMASK)
    try:
        asyncio.run(_serve(args.state_dir, args.port, args.builtin_gateway_api,
                           args.audit_log))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
