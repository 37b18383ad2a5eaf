"""The flags of `propylon up` and `propylon controller` that say which Ingress objects are served.

The controller serves the Ingress objects of every IngressClass whose controller is
`propylon.dev/ingress-controller`; `--ingress-class-nginx` also takes the class named `nginx`
(so a cluster switches from ingress-nginx without touching a manifest), and
`--ingress-configmap NAMESPACE/NAME` names ingress-nginx's ConfigMap, whose global settings apply
where they map (see `propylon.ingress.serving`).
"""

from __future__ import annotations

import argparse
from typing import Any

from propylon.translate.types import IngressSettings


def add_arguments(p: Any) -> None:
    p.add_argument("--ingress-class-nginx", action="store_true",
                   help="also serve Ingress objects of the IngressClass named nginx")
    p.add_argument("--ingress-configmap", default="", metavar="NAMESPACE/NAME",
                   help="ingress-nginx's ConfigMap whose global settings apply to Ingresses")


def settings(args: argparse.Namespace) -> IngressSettings:
    return IngressSettings(configmap=args.ingress_configmap,
                           class_names=frozenset({"nginx"} if args.ingress_class_nginx else ()))
