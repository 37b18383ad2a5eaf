"""`propylon echo --listen HOST:PORT`: run the echo backend (`propylon.echo`) in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from propylon import echo
from propylon.cli.errors import UsageError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("echo", help="serve HTTP requests back as JSON, for testing routes")
    p.add_argument("--listen", default="127.0.0.1:9001", metavar="HOST:PORT",
                   help="address to listen on (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        echo.parse_listen(args.listen)
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        echo.run(args.listen)
    except OSError as err:
        raise UsageError(f"cannot listen on {args.listen}: {err.strerror}; "
                         "choose a free HOST:PORT with --listen") from None
    except KeyboardInterrupt:
        pass
    return 0
