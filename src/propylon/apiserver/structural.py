"""The fields a CustomResourceDefinition's schema does not declare, which kube-apiserver prunes.

`undeclared(schema, obj)` walks an object against a version's `openAPIV3Schema` as a structural
schema: an object keeps the fields listed in `properties`, any field when `additionalProperties`
is given (a map, whose values are walked) or `x-kubernetes-preserve-unknown-fields` is true, and
nothing else; array items are walked with `items`. At the root, and in an
`x-kubernetes-embedded-resource`, `apiVersion`, `kind` and `metadata` are always kept (metadata
is checked as ObjectMeta elsewhere). A built-in kind's schema refers to shared definitions
(`$ref`, as kube-apiserver publishes them); they are resolved from the `definitions` given. Paths are written as field errors write them
(`spec.rules[0].colour`, a map key in brackets), so `admission.prune` removes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_RESOURCE_FIELDS = ("apiVersion", "kind", "metadata")


Definitions = Mapping[str, Any]


def undeclared(schema: dict[str, Any], obj: dict[str, Any],
               definitions: Definitions | None = None) -> list[str]:
    """The paths of the fields of `obj` that `schema` does not declare; references
    (`$ref`, or an `allOf` holding one) are looked up by their last segment in `definitions`."""
    out: list[str] = []
    _walk(schema, obj, "", True, out, definitions or {})
    return out


def _resolve(schema: Any, definitions: Definitions) -> Any:
    while isinstance(schema, dict):
        refs = [s for s in (schema, *(schema.get("allOf") or ())) if isinstance(s, dict)
                and isinstance(s.get("$ref"), str)]
        if not refs:
            return schema
        schema = definitions.get(refs[0]["$ref"].rpartition("/")[2])
    return schema


def _walk(schema: Any, value: Any, path: str, resource: bool, out: list[str],
          definitions: Definitions) -> None:
    schema = _resolve(schema, definitions)
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk(schema.get("items"), item, f"{path}[{i}]", False, out, definitions)
        return
    if not isinstance(value, dict):
        return
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    embedded = resource or bool(schema.get("x-kubernetes-embedded-resource"))
    for key, child in value.items():
        field = f"{path}.{key}" if path else key
        if embedded and key in _RESOURCE_FIELDS:
            continue
        if key in properties:
            _walk(properties[key], child, field, False, out, definitions)
        elif isinstance(extra, dict):
            _walk(extra, child, f"{path}[{key}]", False, out, definitions)
        elif extra is not True:
            out.append(field)
