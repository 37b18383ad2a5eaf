"""`propylon delete -f PATH...` and `propylon delete KIND NAME...`: delete objects like kubectl.

With `-f`, the objects of the manifests (loaded with `propylon.manifests.load_manifests`) are
deleted in file order; with KIND and NAMEs, those objects. Each deletion prints kubectl's line
(`gateway.gateway.networking.k8s.io "api-gateway" deleted from default namespace`); an error
(e.g. NotFound) prints as kubectl prints it, naming the file with -f, and the others are still
deleted. Exit status 1 if any deletion failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.apiserver.errors import APIError
from propylon.cli.apiclient import APIClient, error_message
from propylon.cli.apply import add_filename_arg, resolved
from propylon.cli.connect import add_connection_args, add_namespace_arg, connect
from propylon.cli.errors import UsageError
from propylon.cli.get import resolve_kind
from propylon.client import object_path
from propylon.manifests import load_manifests


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
        manifests = load_manifests(args.paths)
        client, namespace = connect(args)
        targets: list[tuple[KindInfo, str | None, str, str] | str] = []
        for m, ref in resolved(manifests, namespace, explicit=args.namespace is not None):
            targets.append(ref if isinstance(ref, str)
                           else (ref.info, ref.namespace, ref.name, str(m.source)))
    else:
        info = resolve_kind(args.kind)
        client, namespace = connect(args)
        targets = [(info, namespace if info.namespaced else None, name, "")
                   for name in args.names]
    failed = False
    for target in targets:
        if isinstance(target, str):
            print(target, file=sys.stderr)
            failed = True
        elif not _delete(client, *target):
            failed = True
    return 1 if failed else 0


def _delete(client: APIClient, info: KindInfo, namespace: str | None, name: str,
            source: str) -> bool:
    try:
        client.request("DELETE", object_path(info, namespace, name))
    except APIError as err:
        if source:
            err.message = f'error when deleting "{source}": {err.message}'
        sys.stdout.flush()
        print(error_message(err), file=sys.stderr)
        return False
    resource = f"{info.singular}.{info.group}" if info.group else info.singular
    where = f" from {namespace} namespace" if namespace else ""
    print(f'{resource} "{name}" deleted{where}', flush=True)
    return True
