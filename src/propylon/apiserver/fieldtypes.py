"""How each field of a kind merges and is owned under server-side apply.

Kubernetes' structured merge reads three things from a kind's schema: whether a list is a map
keyed by some of its items' fields (`x-kubernetes-list-type: map` with
`x-kubernetes-list-map-keys`: Gateway listeners by `name`), a set of scalars (`set`: owned per
value) or one value (`atomic`, the default for lists); whether a map is granular (each key owned
on its own, the default) or `x-kubernetes-map-type: atomic` (label selectors); and which fields a
struct declares.

`shape_of(info, crd_schema)` answers these questions for one kind as a `Shape`, a cursor that is
moved down with `field(name)` and `item()`. The answers come, first, from a small table of the
list types Kubernetes declares for metadata and the builtin kinds (containers by name, container
ports by containerPort+protocol, Service ports by port+protocol, conditions by type, ...); then
from the kind's schema: the openAPIV3Schema of a served CRD, or else Propylon's own schema of the
kind (`propylon.api.validation.SCHEMAS`, whose `Arr` nodes carry the CRDs' list-map keys and
set-ness). Where no schema says anything, types are deduced as Kubernetes does for unknown
fields: maps are granular, lists atomic.

A list-map key field that an item leaves out takes the schema's default for it (a Service port
without `protocol` is the item `{"port":80,"protocol":"TCP"}`), as structured-merge-diff does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api import validation
from propylon.api.kinds import KindInfo
from propylon.api.schema import Arr, Map, Node, Obj

ATOMIC = "atomic"
LIST_MAP = "map"
SET = "set"

# "[]" stands for the items of a list in these paths
_ITEM = "[]"


@dataclass(frozen=True)
class ListType:
    """How a list merges: `relation` is "map" (items by `keys`), "set" or "atomic"."""

    relation: str
    keys: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()  # defaults of key fields


_PORTS = ListType(LIST_MAP, ("containerPort", "protocol"), (("protocol", "TCP"),))
_CONTAINER = {("ports",): _PORTS, ("env",): ListType(LIST_MAP, ("name",)),
              ("volumeMounts",): ListType(LIST_MAP, ("mountPath",))}
_POD_SPEC: dict[tuple[str, ...], ListType] = {
    ("volumes",): ListType(LIST_MAP, ("name",)),
    ("imagePullSecrets",): ListType(LIST_MAP, ("name",)),
    ("hostAliases",): ListType(LIST_MAP, ("ip",)),
}
for _list in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC[(_list,)] = ListType(LIST_MAP, ("name",))
    _POD_SPEC.update({(_list, _ITEM, *path): t for path, t in _CONTAINER.items()})

# list types Kubernetes declares, by kind ("" for every kind), for paths from the object's root
BUILTIN_LISTS: Mapping[str, Mapping[tuple[str, ...], ListType]] = {
    "": {("metadata", "finalizers"): ListType(SET),
         ("metadata", "ownerReferences"): ListType(LIST_MAP, ("uid",)),
         ("status", "conditions"): ListType(LIST_MAP, ("type",))},
    "Service": {("spec", "ports"): ListType(LIST_MAP, ("port", "protocol"),
                                            (("protocol", "TCP"),))},
    "Pod": {("spec", *path): t for path, t in _POD_SPEC.items()},
    "Deployment": {("spec", "template", "spec", *path): t for path, t in _POD_SPEC.items()},
    "ServiceAccount": {("secrets",): ListType(LIST_MAP, ("name",)),
                       ("imagePullSecrets",): ListType(LIST_MAP, ("name",))},
}
# maps Kubernetes owns whole (x-kubernetes-map-type: atomic)
BUILTIN_ATOMIC_MAPS: Mapping[str, frozenset[tuple[str, ...]]] = {
    "Service": frozenset({("spec", "selector")}),
    "Deployment": frozenset({("spec", "selector")}),
}
# Propylon schema nodes that the CRDs mark x-kubernetes-map-type: atomic
_ATOMIC_NODES = (validation.LABEL_SELECTOR,)

Source = Node | Mapping[str, Any] | None


class Shape:
    """The merge type of the field at `path` of one kind (see the module docstring)."""

    def __init__(self, kind: str, source: Source, path: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.source = source
        self.path = path

    def field(self, name: str) -> Shape:
        return Shape(self.kind, _child(self.source, name), self.path + (name,))

    def item(self) -> Shape:
        return Shape(self.kind, _items(self.source), self.path + (_ITEM,))

    def list_type(self) -> ListType:
        for table in (BUILTIN_LISTS.get(self.kind, {}), BUILTIN_LISTS[""]):
            if self.path in table:
                return table[self.path]
        source = self.source
        if isinstance(source, Arr):
            if source.keys:
                return ListType(LIST_MAP, source.keys, _node_defaults(source.items, source.keys))
            return ListType(SET if source.unique else ATOMIC)
        if isinstance(source, Mapping):
            relation = source.get("x-kubernetes-list-type") or ATOMIC
            keys = tuple(source.get("x-kubernetes-list-map-keys") or ())
            if relation == LIST_MAP and keys:
                props = (source.get("items") or {}).get("properties") or {}
                return ListType(LIST_MAP, keys, tuple(
                    (k, props[k]["default"]) for k in keys
                    if isinstance(props.get(k), Mapping) and "default" in props[k]))
            return ListType(SET if relation == SET else ATOMIC)
        return ListType(ATOMIC)

    def atomic_map(self) -> bool:
        if self.path in BUILTIN_ATOMIC_MAPS.get(self.kind, frozenset()):
            return True
        if isinstance(self.source, Node):
            return any(self.source is node for node in _ATOMIC_NODES)
        return isinstance(self.source, Mapping) and \
            self.source.get("x-kubernetes-map-type") == ATOMIC

    def declares(self, name: str) -> bool:
        """Whether `name` is a declared field of this struct (not a key of a free map)."""
        if self.path == ("metadata",):
            return True  # ObjectMeta, whatever the schema says of it
        if isinstance(self.source, Obj):
            return name in self.source.fields
        if isinstance(self.source, Mapping):
            return name in (self.source.get("properties") or {})
        return False


def _child(source: Source, name: str) -> Source:
    if isinstance(source, Obj):
        return source.fields.get(name)
    if isinstance(source, Map):
        return source.values
    if isinstance(source, Mapping):
        props = source.get("properties") or {}
        if name in props:
            child: Mapping[str, Any] = props[name]
            return child
        extra = source.get("additionalProperties")
        return extra if isinstance(extra, Mapping) else None
    return None


def _items(source: Source) -> Source:
    if isinstance(source, Arr):
        return source.items
    items = source.get("items") if isinstance(source, Mapping) else None
    return items if isinstance(items, Mapping) else None


def _node_defaults(items: Node, keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    if not isinstance(items, Obj):
        return ()
    return tuple((k, items.fields[k].default) for k in keys
                 if k in items.fields and items.fields[k].default is not None)


def shape_of(info: KindInfo, crd_schema: Mapping[str, Any] | None = None) -> Shape:
    """The root `Shape` of `info`'s objects; `crd_schema` is the served CRD's schema, if any."""
    source: Source = crd_schema if crd_schema is not None \
        else validation.SCHEMAS.get((info.group, info.kind))
    return Shape(info.kind, source)
