"""`propylon delete -f PATH...` and `propylon delete KIND NAME...`: delete objects like kubectl.

With `-f`, the objects of the manifests (loaded with `propylon.manifests.load_manifests`) are
deleted in file order; with KIND and NAMEs, those objects. Each deletion prints kubectl's line
(`gateway.gateway.networking.k8s.io "api-gateway" deleted from default namespace`); an error
(e.g. NotFound) prints as kubectl prints it, naming the file with -f, and the others are still
deleted. Exit status 1 if any deletion failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.cli.apply import add_filename_arg, resolved
from propylon.cli.connect import add_connection_args, add_namespace_arg, connect
from propylon.cli.errors import UsageError, error_message
from propylon.cli.get import resolve_kind
from propylon.client import KubeClient, KubeError, resource_class
from propylon.manifests import Manifest, load_manifests

Target = tuple[KindInfo, str | None, str, str]  # kind, namespace, name, manifest file or ""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("delete",
                              help="delete objects named by manifests or by kind and name")
    p.add_argument("kind", nargs="?", help="resource type, when not using -f")
    p.add_argument("names", nargs="*", help="names of the objects to delete")
    add_filename_arg(p, "delete", required=False)
    add_namespace_arg(p)
    add_connection_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.paths and args.kind:
        raise UsageError("pass either -f PATH or KIND NAME, not both")
    if not args.paths and not (args.kind and args.names):
        raise UsageError("you must specify the objects to delete: -f PATH, or KIND NAME "
                         "(e.g. propylon delete gateway api-gateway)")
    if args.paths:
        return asyncio.run(_delete_all(args, load_manifests(args.paths), None))
    return asyncio.run(_delete_all(args, [], resolve_kind(args.kind)))


async def _delete_all(args: argparse.Namespace, manifests: list[Manifest],
                      info: KindInfo | None) -> int:
    """Delete the objects of `manifests`, or those named on the command line (of kind `info`)."""
    async with connect(args) as (client, namespace):
        targets: list[Target | str]
        if info is None:
            targets = [ref if isinstance(ref, str)
                       else (ref.info, ref.namespace, ref.name, str(m.source))
                       for m, ref in resolved(manifests, namespace,
                                              explicit=args.namespace is not None)]
        else:
            targets = [(info, namespace if info.namespaced else None, name, "")
                       for name in args.names]
        failed = False
        for target in targets:
            if isinstance(target, str):
                print(target, file=sys.stderr)
                failed = True
            elif not await _delete(client, *target):
                failed = True
    return 1 if failed else 0


async def _delete(client: KubeClient, info: KindInfo, namespace: str | None, name: str,
                  source: str) -> bool:
    try:
        await client.delete(resource_class(info), name, namespace=namespace)
    except KubeError as err:
        if source:
            err.message = f'error when deleting "{source}": {err.message}'
        sys.stdout.flush()
        print(error_message(err), file=sys.stderr)
        return False
    resource = f"{info.singular}.{info.group}" if info.group else info.singular
    where = f" from {namespace} namespace" if namespace else ""
    print(f'{resource} "{name}" deleted{where}', flush=True)
    return True
