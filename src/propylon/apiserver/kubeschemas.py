"""Kubernetes' own schemas of the built-in kinds, as kube-apiserver publishes them in OpenAPI v3.

The `kubernetes-validate` package ships, per Kubernetes version, the definitions of every
built-in type (`_definitions.json`: Pod, ServiceSpec, ObjectMeta, ..., descriptions and the
`x-kubernetes-*` extensions included) rewritten as JSON Schema. `definitions()` reads the file of
`KUBERNETES_VERSION` once and turns it back into the OpenAPI v3 components kube-apiserver
serves: nullable type lists (`["string", "null"]`) become plain types, references point at
`#/components/schemas/<name>` and are wrapped in `allOf` when the property also has a
description (kube-apiserver's form), the `apiVersion`/`kind` enums the package adds are dropped,
and IntOrString and Quantity get a description. The patch
extensions (`x-kubernetes-patch-merge-key`, ...) stay: kubectl builds its strategic merge
patches from them.

`name_of(group, version, kind)` finds a kind's definition by its
`x-kubernetes-group-version-kind`; `closure(names)` is those definitions and every one they
reference, what a group version's document must hold. The API server's unknown-field check
reads `source_definitions()`, the file as shipped, so a server that is never asked for OpenAPI
does not pay for the conversion. When the package or its data is missing, both are empty
(logged once) and callers publish permissive schemas instead.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KUBERNETES_VERSION = "1.37.0"
COMPONENTS = "#/components/schemas/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_SOURCE_REF = "#/$defs/"

# The two types the package publishes without a description: a oneOf of their JSON types, as
# kube-apiserver's v3 does (kubectl explain then names them `<IntOrString>`, `<Quantity>`).
_SCALARS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString holds an int32 or a string: a port number or a port name, "
                       "a count or a percentage.",
        "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point number with an optional suffix: 128Mi, 2Gi, "
                       "500m, 1.5, 1e3 (binary, decimal or exponent notation).",
        "oneOf": [{"type": "string"}, {"type": "number"}]},
}


def _source() -> Path | None:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = (Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
            / f"v{KUBERNETES_VERSION}-local" / "_definitions.json")
    return path if path.exists() else None


@functools.cache
def source_definitions() -> dict[str, dict[str, Any]]:
    """Every built-in definition as the package ships it (JSON Schema; references are
    `#/$defs/<name>`), by name; empty, with a warning, when unavailable. Enough to find the
    fields an object does not declare, without converting all of them."""
    path = _source()
    if path is None:
        log.warning("the Kubernetes %s schemas (package kubernetes-validate) are missing: "
                    "OpenAPI publishes the built-in kinds without fields, so `kubectl explain "
                    "pod` lists none, and their unknown fields are stored; install "
                    "kubernetes-validate", KUBERNETES_VERSION)
        return {}
    source: dict[str, dict[str, Any]] = json.loads(path.read_text())["$defs"]
    return source


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """Every built-in definition in OpenAPI v3 form, by name (empty when unavailable)."""
    out = {name: _convert(schema) for name, schema in source_definitions().items()}
    for schema in out.values():
        if schema.get("x-kubernetes-group-version-kind"):
            for field in ("apiVersion", "kind"):
                schema.get("properties", {}).get(field, {}).pop("enum", None)
    if out:
        out.update(_SCALARS)
    return out


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if len(types) == 1 else types
        elif key == "$ref" and isinstance(value, str):
            out[key] = COMPONENTS + value.removeprefix(_SOURCE_REF)
        elif key == "properties":  # field names, one of which may be "$ref" or "type"
            out[key] = {name: _convert(child) for name, child in value.items()}
        else:
            out[key] = _convert(value)
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    return {(gvk["group"], gvk["version"], gvk["kind"]): name
            for name, schema in source_definitions().items()
            for gvk in schema.get("x-kubernetes-group-version-kind") or ()}


def name_of(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind (`io.k8s.api.core.v1.Pod`), None if unknown."""
    return _by_gvk().get((group, version, kind))


def references(schema: Any) -> set[str]:
    """The definition names `schema` refers to directly."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMPONENTS):
                found.add(ref.removeprefix(COMPONENTS))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def closure(names: set[str]) -> dict[str, dict[str, Any]]:
    """The definitions `names` and every definition they reference, transitively."""
    defs = definitions()
    out: dict[str, dict[str, Any]] = {}
    todo = [n for n in names if n in defs]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = defs[name]
        todo.extend(r for r in references(defs[name]) if r in defs and r not in out)
    return out
