"""Which Ingresses a conversion takes, and the Gateway each one goes to.

An Ingress is ours when its class (the `kubernetes.io/ingress.class` annotation, else
`spec.ingressClassName`, else the IngressClass marked default with
`ingressclass.kubernetes.io/is-default-class: "true"`) is an IngressClass whose controller is one
of `Options.controllers`, or a name in `Options.class_names` (e.g. `nginx`, so a cluster switches
controllers without touching a manifest). An Ingress with no class at all and no default class
is taken only with `Options.take_unclassed` (ingress-nginx's `--watch-ingress-without-class`),
as class `Options.unclassed_class`.

Every class gets one Gateway (`gateway_name(class)` = `ingress-<class>`), as ingress-nginx serves
all its Ingresses on one controller address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from propylon.ingress.model import Ingress, Json
from propylon.ingress.names import child_name

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Selection:
    taken: tuple[tuple[str, Ingress], ...]      # (class name, Ingress), in ingress-nginx's order
    ignored: tuple[str, ...]                    # "namespace/name (class ...)" of the others


def gateway_name(class_name: str) -> str:
    return child_name("ingress", class_name)


def select(ingresses: Iterable[Ingress], classes: Iterable[Json], controllers: frozenset[str],
           class_names: frozenset[str], take_unclassed: bool,
           unclassed_class: str) -> Selection:
    ours = set(class_names)
    default = ""
    for cls in classes:
        meta = cls.get("metadata") or {}
        if (cls.get("spec") or {}).get("controller") in controllers:
            ours.add(str(meta.get("name")))
            annotations = meta.get("annotations") or {}
            if str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true":
                default = default or str(meta.get("name"))
    taken: list[tuple[str, Ingress]] = []
    ignored: list[str] = []
    for ing in sorted(ingresses, key=lambda i: (i.created, i.namespace, i.name)):
        name = ing.class_name or default or (unclassed_class if take_unclassed else "")
        if name and name in ours | ({unclassed_class} if take_unclassed else set()):
            taken.append((name, ing))
        else:
            ignored.append(f"{ing.key} (class {ing.class_name or 'none'})")
    return Selection(tuple(taken), tuple(ignored))
