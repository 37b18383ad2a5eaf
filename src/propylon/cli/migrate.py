"""`propylon migrate -f PATH... [-o DIR]`: ingress-nginx Ingress objects as Gateway API resources.

The manifests under the paths (`propylon.manifests.load_manifests`: Ingress, IngressClass, the
ingress-nginx ConfigMap, and the Services and Secrets the Ingresses name) go through the pure
conversion `propylon.ingress.convert` with its `MIGRATE` options (ingress-nginx's classes, the
class named `nginx` and Ingresses without a class). The resources are written as YAML, to stdout
(documents separated by `---`) or with `-o DIR` one file per object
(`<kind>-<namespace>-<name>.yaml`; Secrets, a `kubernetes.io/tls` copy of an Opaque TLS
Secret with its private key or basic auth's password hashes, mode 0600); the report (`propylon.ingress.report.markdown`) goes to
stderr, or to `DIR/REPORT.md`. The exit status is non-zero only when the input cannot be read:
annotations that cannot be converted are the report's business.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from propylon.cli.apply import add_filename_arg
from propylon.cli.output import to_yaml
from propylon.ingress import MIGRATE, convert
from propylon.ingress.report import markdown
from propylon.manifests import load_manifests
from propylon.statedir import write_private


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate", help="convert ingress-nginx Ingress objects into Gateway API resources",
        description=__doc__.split("\n\n")[0])
    add_filename_arg(parser, "convert")
    parser.add_argument("-o", "--output-dir", type=str, default=None, metavar="DIR",
                        help="write one file per object and REPORT.md into DIR (default: "
                             "resources on stdout, report on stderr)")
    parser.add_argument("--gateway-namespace", default=MIGRATE.gateway_namespace,
                        help="namespace of the Gateways made for the IngressClasses "
                             "(default: %(default)s)")
    parser.add_argument("--gateway-class", default=MIGRATE.gateway_class,
                        help="GatewayClass of those Gateways (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    objects = [m.obj for m in load_manifests(args.paths)]
    options = replace(MIGRATE, gateway_namespace=args.gateway_namespace,
                      gateway_class=args.gateway_class)
    result = convert(objects, options)
    report = markdown(result.report, result.ignored)
    if args.output_dir is None:
        sys.stdout.write("---\n".join(to_yaml(dict(obj)) for obj in result.objects))
        sys.stderr.write(report)
        if any(obj["kind"] == "Secret" for obj in result.objects):
            print("the output holds Secrets (a TLS copy's private key, password hashes): keep "
                  "it private, or write it with -o DIR (Secrets mode 0600)", file=sys.stderr)
        return 0
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    private = []
    for obj in result.objects:
        meta = obj["metadata"]
        name = f"{obj['kind'].lower()}-{meta['namespace']}-{meta['name']}.yaml"
        if obj["kind"] == "Secret":  # a TLS copy's private key, basic auth's password hashes
            write_private(out / name, to_yaml(dict(obj)).encode())
            private.append(name)
        else:
            (out / name).write_text(to_yaml(dict(obj)))
    (out / "REPORT.md").write_text(report)
    print(f"{len(result.objects)} objects and REPORT.md written to {out}", file=sys.stderr)
    if private:
        print(f"{', '.join(private)}: Secrets, written with mode 0600", file=sys.stderr)
    return 0
