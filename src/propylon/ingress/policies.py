"""Envoy Gateway policies from the annotations' `Policy` fragments.

Fragments of one kind from one Ingress are deep-merged into one policy named after the Ingress,
targeting its routes; fragments aimed at the Gateway (`target="gateway"`) are merged over every
Ingress of the class into one policy named after the Gateway (later Ingresses win a conflict).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from propylon.api.kinds import GATEWAY_GROUP
from propylon.ingress.effects import Policy
from propylon.ingress.manifests import EG_GROUP, deep_merge, manifest
from propylon.ingress.model import Json


def policies(fragments: Iterable[Policy], namespace: str, name: str,
             targets: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """One policy per kind in `fragments`, named `name`, targeting `targets` ((kind, name))."""
    specs: dict[str, Json] = {}
    for fragment in fragments:
        specs[fragment.kind] = deep_merge(specs.get(fragment.kind, {}), fragment.spec)
    refs = [{"group": GATEWAY_GROUP, "kind": kind, "name": target} for kind, target in targets]
    return [manifest(kind, EG_GROUP, namespace, name, {**spec, "targetRefs": refs})
            for kind, spec in sorted(specs.items())]
