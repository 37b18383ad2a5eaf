"""Manifests of the suite: load, rewrite as the harness's Applier does, apply, clean up.

`load_objects(root, relative_paths, rewrite)` reads the YAML documents of each manifest file
(paths relative to the suite's `conformance/` folder) and rewrites them on the way in:
- every Gateway's `spec.gatewayClassName` becomes the suite's class (the files write
  `{GATEWAY_CLASS_NAME}`), every GatewayClass's `spec.controllerName` the controller's;
- Gateway `spec.addresses` entries whose value is `PLACEHOLDER_USABLE_ADDRS` /
  `PLACEHOLDER_UNUSABLE_ADDRS` are replaced by one entry per address of that pool (same type);
  other entries, `test/fake-invalid-type` ones included, are kept.
`apply(client, objects)` creates or updates them (server-side apply) and raises on any error.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from propylon.client import KubeClient
from propylon.manifests import ObjectRef, apply_objects, delete_object, load_file, object_ref

USABLE = "PLACEHOLDER_USABLE_ADDRS"
UNUSABLE = "PLACEHOLDER_UNUSABLE_ADDRS"


class ApplyError(Exception):
    """The API server refused an object of the suite's manifests."""


@dataclass(frozen=True)
class Rewrite:
    gateway_class: str
    controller_name: str
    usable_addresses: tuple[str, ...] = ()
    unusable_addresses: tuple[str, ...] = ()

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A rewritten copy of one object."""
        obj = copy.deepcopy(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return obj
        if obj.get("kind") == "Gateway":
            spec["gatewayClassName"] = self.gateway_class
            if isinstance(spec.get("addresses"), list):
                spec["addresses"] = self.addresses(spec["addresses"])
        elif obj.get("kind") == "GatewayClass":
            spec["controllerName"] = self.controller_name
        return obj

    def addresses(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Address entries with the placeholders replaced by the pools' addresses."""
        pools = {USABLE: self.usable_addresses, UNUSABLE: self.unusable_addresses}
        out = []
        for entry in entries:
            pool = pools.get(str(entry.get("value")))
            if pool is None:
                out.append(entry)
            else:
                out.extend({**entry, "value": address} for address in pool)
        return out


def load_objects(root: Path, paths: Sequence[str], rewrite: Rewrite) -> list[dict[str, Any]]:
    objects = []
    for rel in paths:
        for manifest in load_file(root / rel):
            objects.append(rewrite.apply(manifest.obj))
    return objects


async def apply(client: KubeClient, objects: Sequence[dict[str, Any]]) -> list[ObjectRef]:
    """Create or update every object; ApplyError naming the refused ones."""
    outcomes = await apply_objects(client, objects, field_manager="propylon-conformance")
    errors = [o.message for o in outcomes if not o.ok]
    if errors:
        raise ApplyError("; ".join(errors))
    return [o.ref for o in outcomes]


def refs_of(objects: Sequence[dict[str, Any]]) -> list[ObjectRef]:
    return [object_ref(o, "default") for o in objects]


async def delete_all(client: KubeClient, refs: Sequence[ObjectRef]) -> None:
    """Delete the objects, newest first (Namespaces last); missing ones are fine."""
    ordered = sorted(reversed(refs), key=lambda r: r.kind == "Namespace")
    for ref in ordered:
        await delete_object(client, ref)
