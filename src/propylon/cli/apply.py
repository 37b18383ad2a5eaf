"""`propylon apply -f PATH...`: server-side apply manifests, printing what kubectl prints.

Files and directories are read with `propylon.manifests.load_manifests` (errors name the file
and line). Each object is sent as a server-side apply patch (`application/apply-patch+yaml`,
`fieldManager=propylon&force=true`), which creates or updates it; Namespaces go first. Success
prints `gateway.gateway.networking.k8s.io/api-gateway serverside-applied`; a server error prints
as kubectl prints it (for a 422, `The Gateway "x" is invalid:` and one `* field: message` line
per cause) and the remaining objects are still applied. Exit status 1 if any object failed.

The requests go through `propylon.client.KubeClient.apply` one object at a time rather than
`manifests.apply_objects`, because each refusal is printed as kubectl prints it (for a 422 from
the server's `details.causes`) and the remaining objects are still applied.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from propylon.api.kinds import by_api_version
from propylon.cli.connect import add_connection_args, add_namespace_arg, connect
from propylon.cli.errors import error_message
from propylon.client import KubeClient, KubeError, resource_class
from propylon.manifests import Manifest, ObjectRef, load_manifests, object_ref

FIELD_MANAGER = "propylon"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("apply", help="create or update objects from manifests "
                                            "(server-side apply)")
    add_filename_arg(p, "apply")
    add_namespace_arg(p)
    add_connection_args(p)
    p.set_defaults(func=run)


def add_filename_arg(parser: Any, verb: str, required: bool = True) -> None:
    parser.add_argument("-f", "--filename", dest="paths", action="append", type=Path,
                        default=[], required=required, metavar="PATH",
                        help=f"file or directory of YAML/JSON manifests to {verb} (repeatable)")


def resolved(manifests: list[Manifest], namespace: str,
             explicit: bool) -> list[tuple[Manifest, ObjectRef | str]]:
    """Each manifest with its address, or the error to print for it (kind not served, or a
    namespace that contradicts an explicit `-n`)."""
    out: list[tuple[Manifest, ObjectRef | str]] = []
    for m in manifests:
        ref = object_ref(m.obj, namespace)
        own = (m.obj.get("metadata") or {}).get("namespace")
        try:
            by_api_version(ref.api_version, ref.kind)
        except KeyError:
            out.append((m, f'error: resource mapping not found for name: "{ref.name}" from '
                           f'"{m.source}": no matches for kind "{ref.kind}" in version '
                           f'"{ref.api_version}"'))
            continue
        if explicit and own and ref.namespace is not None and own != namespace:
            out.append((m, f'error: the namespace from the provided object "{own}" does not '
                           f'match the namespace "{namespace}". You must pass '
                           f"'--namespace={own}' to perform this operation."))
            continue
        out.append((m, ref))
    return out


async def apply_one(client: KubeClient, m: Manifest, ref: ObjectRef) -> None:
    body = dict(m.obj)
    body["metadata"] = {**(body.get("metadata") or {})}
    if ref.namespace is not None:
        body["metadata"]["namespace"] = ref.namespace
    await client.apply(resource_class(ref.info)(body), field_manager=FIELD_MANAGER, force=True)


def run(args: argparse.Namespace) -> int:
    manifests = load_manifests(args.paths)
    manifests.sort(key=lambda m: m.obj.get("kind") != "Namespace")
    return asyncio.run(_apply(args, manifests))


async def _apply(args: argparse.Namespace, manifests: list[Manifest]) -> int:
    failed = False
    async with connect(args) as (client, namespace):
        for m, ref in resolved(manifests, namespace, explicit=args.namespace is not None):
            if isinstance(ref, str):
                print(ref, file=sys.stderr)
                failed = True
                continue
            try:
                await apply_one(client, m, ref)
            except KubeError as err:
                sys.stdout.flush()
                print(error_message(err), file=sys.stderr)
                failed = True
                continue
            print(f"{ref} serverside-applied", flush=True)
    return 1 if failed else 0
