"""`propylon echo`: run the echo backend (`propylon.echo`) in the foreground.

`--listen HOST:PORT` serves plain HTTP/1.1 on one address, its replies naming the Service it
stands for with `--service [NAMESPACE/]NAME` (else `$SERVICE_NAME`, `$POD_NAME`, `$NAMESPACE`,
as echo-basic); `--env` instead runs the
echo-basic-like server configured from the environment (HTTP_PORT, H2C_PORT, HTTPS_PORT,
TLS_SERVER_CERT, TLS_SERVER_PRIVKEY, TLS_CLIENT_CACERTS, ...), as `python -m propylon.echo` does.
"""

from __future__ import annotations

import argparse
from typing import Any

from propylon.cli.errors import UsageError
from propylon.echo import command, environment


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("echo", help="serve HTTP requests back as JSON, for testing routes")
    p.add_argument("--listen", default="127.0.0.1:9001", metavar="HOST:PORT",
                   help="address to listen on (default %(default)s)")
    p.add_argument("--service", metavar="[NAMESPACE/]NAME",
                   help="the Service this echo is the backend of: its replies say so in "
                        "`service`, `pod` and `namespace` (default: from $SERVICE_NAME, "
                        "$POD_NAME and $NAMESPACE)")
    p.add_argument("--env", action="store_true",
                   help="serve HTTP, h2c and HTTPS like the conformance echo-basic image, "
                        "configured by its environment variables (ignores --listen)")
    p.add_argument("--bind", metavar="HOST",
                   help="with --env: address every listener binds (default $BIND_ADDRESS or 127.0.0.1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.env:
        return command.main(["--bind", args.bind] if args.bind else [])
    if args.bind:
        raise UsageError("--bind goes with --env; for a single listener write --listen HOST:PORT")
    try:
        command.parse_listen(args.listen)
        context = environment.named(args.service) if args.service else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        command.run(args.listen, context)
    except OSError as err:
        raise UsageError(f"cannot listen on {args.listen}: {err.strerror}; "
                         "choose a free HOST:PORT with --listen") from None
    except KeyboardInterrupt:
        pass
    return 0
