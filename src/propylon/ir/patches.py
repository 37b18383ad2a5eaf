"""JSON patches on a Gateway's generated Envoy resources (Envoy Gateway's EnvoyPatchPolicy).

A `JsonPatch` is one RFC 6902 operation on one xDS resource, found by type URL and name; the
policy it comes from (`policy`, "namespace/name") and its index in `spec.jsonPatches` name it
in status. `GatewayIR.patches` holds them in the order they apply (policy priority, then the
policies' age and name, then index); `propylon.xds.translate.patches` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JsonPatch:
    policy: str  # namespace/name of the EnvoyPatchPolicy
    index: int  # in spec.jsonPatches
    type_url: str  # type.googleapis.com/envoy.config...
    name: str  # the resource's name
    op: str  # add, remove, replace, move, copy, test
    path: str  # JSON pointer into the resource (proto JSON field names)
    from_: str | None = None  # move and copy
    value: str | None = None  # canonical JSON: add, replace and test
    json_path: str | None = None  # a JSONPath: `path` applies under each place it selects
