"""The `propylon` command: one argparse parser, one module per command group.

Each command module (`controller`, `get`, `apply`, `delete`, `translate`, `echo`, `version`, `migrate`, and `up` when it
is installed) exposes `add_parser(subparsers)`, which registers its subcommand and sets
`func(args) -> int`. `main()` parses, runs the command, and turns the errors commands raise into
kubectl-style messages on stderr with exit status 1 (see `errors.py`). Usage errors also exit 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from propylon.cli import (
    apply,
    conformance,
    controller,
    delete,
    echo,
    get,
    migrate,
    translate,
    version,
)
from propylon.cli import shutdown as proxy_shutdown
from propylon.cli import xdsagent as proxy_xds_agent
from propylon.cli.errors import REPORTED, describe

try:
    from propylon.cli import up
except ImportError:  # pragma: no cover - a build without the standalone runtime
    up = None  # type: ignore[assignment]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="propylon",
                     description="Propylon: a Kubernetes Gateway API implementation on Envoy.")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND",
                                       parser_class=_Parser)
    modules = [up] if up is not None else []
    for module in modules + [controller, get, apply, delete, translate, echo, conformance,
                                       version, migrate]:
        module.add_parser(subparsers)
    proxy_shutdown.add_parser(subparsers)
    proxy_xds_agent.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 1
    try:
        return int(args.func(args))
    except REPORTED as err:
        sys.stdout.flush()
        print(describe(err), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
