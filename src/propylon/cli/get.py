"""`propylon get KIND [NAME]`: read objects from the API server and print them like kubectl.

KIND is resolved with `propylon.api.kinds.resolve` (plural, singular, short name, Kind or
`plural.group`). For the default and `-o wide` output the server is asked for a `Table`, so the
columns are the kind's printer columns exactly as kubectl shows them (see `table.py`); the other
formats print the objects (see `output.py`). An empty table prints
`No resources found in NS namespace.` to stderr, as kubectl does (other formats print nothing,
or an empty List).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from propylon.api.kinds import KindInfo, resolve
from propylon.cli.connect import add_connection_args, add_namespace_arg, connect
from propylon.cli.errors import UsageError
from propylon.cli.output import FORMATS, render
from propylon.cli.table import format_table


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("get", help="show objects, like kubectl get")
    p.add_argument("kind", help="resource type: gateway, gtw, httproutes, svc, ...")
    p.add_argument("name", nargs="?", help="one object's name (default: all)")
    add_namespace_arg(p)
    p.add_argument("-A", "--all-namespaces", action="store_true",
                   help="list objects of every namespace")
    p.add_argument("-o", "--output", default="",
                   help=f"output format: {', '.join(FORMATS)}")
    p.add_argument("-l", "--selector", default=None, help="label selector, e.g. app=web")
    add_connection_args(p)
    p.set_defaults(func=run)


def resolve_kind(name: str) -> KindInfo:
    try:
        return resolve(name)
    except KeyError:
        raise UsageError(f'the server doesn\'t have a resource type "{name}"') from None


def run(args: argparse.Namespace) -> int:
    info = resolve_kind(args.kind)
    fmt = args.output
    if fmt not in ("", "wide") and fmt not in ("yaml", "json", "name") \
            and not fmt.startswith("jsonpath="):
        raise UsageError(f'unable to match a printer suitable for the output format "{fmt}", '
                         f"allowed formats are: {','.join(FORMATS)}")
    if args.name and args.all_namespaces:
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    return asyncio.run(_get(args, info, fmt))


async def _get(args: argparse.Namespace, info: KindInfo, fmt: str) -> int:
    async with connect(args) as (client, namespace):
        ns = None if args.all_namespaces or not info.namespaced else namespace
        selector = args.selector if not args.name else None
        answer = await client.read(info, ns, args.name, selector=selector,
                                   table=fmt in ("", "wide"))
    if fmt in ("", "wide"):
        text = format_table(answer, wide=fmt == "wide",
                            with_namespace=args.all_namespaces and info.namespaced)
        sys.stdout.write(text)
        if not text:
            _no_resources(info, ns)
        return 0
    objects: list[dict[str, Any]] = [answer] if args.name else list(answer.get("items") or [])
    sys.stdout.write(render(fmt, info, objects, single=bool(args.name)))
    return 0


def _no_resources(info: KindInfo, namespace: str | None) -> None:
    where = f" in {namespace} namespace." if info.namespaced and namespace else ""
    print(f"No resources found{where}", file=sys.stderr)
