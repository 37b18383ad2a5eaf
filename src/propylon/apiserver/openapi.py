"""OpenAPI v3 and v2 documents with every served kind's schema, for kubectl.

kubectl reads them for three things. Before a write, it reads `/openapi/v3` and the document of
each group version it touches, and leaves validation to the server only if that document
declares a PATCH operation (with `x-kubernetes-group-version-kind`) that accepts the
`fieldValidation` query parameter: each group-version document therefore lists the usual paths
and operations of every kind. `kubectl explain` walks the kind's schema (v3; v2 with
`--output plaintext-openapiv2`). And `kubectl apply` computes the strategic merge patch of a
built-in kind from the `x-kubernetes-patch-*` extensions of its schema.

Where each kind's schema comes from (`component`):
- a built-in kind: Kubernetes' own definition (`kubeschemas`), with every definition it refers
  to, named as kube-apiserver names them (`io.k8s.api.core.v1.Pod`);
- a kind with a CRD schema (`schema_of`: an applied CRD's version, or the bundled CRDs of the
  kinds standalone serves without one): that `openAPIV3Schema`, completed as apiextensions
  completes it (`apiVersion` and `kind` described, `metadata` a reference to ObjectMeta),
  named by the group reversed (`io.k8s.networking.gateway.v1.Gateway`);
- otherwise a permissive object (any fields; the server validates).
Every kind schema carries `x-kubernetes-group-version-kind`, which is how kubectl finds it.

`/openapi/v2` is one Swagger 2.0 document holding every group version, the same schemas with
references to `#/definitions/` and without what Swagger 2.0 lacks (`allOf` around a reference,
`oneOf`/`anyOf`/`not`, `nullable`; IntOrString and Quantity are strings there, as in
kube-apiserver's v2). Documents are plain dicts; `encode` turns one into the
bytes served and their hash (the `?hash=` of the v3 root and the ETag).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.apiserver import kubeschemas

SchemaOf = Callable[[KindInfo], dict[str, Any] | None]


def gv_path(info: KindInfo) -> str:
    """`api/v1` or `apis/<group>/<version>`: where a kind's v3 document is."""
    return f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"


def _crd_name(info: KindInfo) -> str:
    """`io.k8s.networking.gateway.v1.Gateway` style: the group reversed, then version and kind
    (`io.k8s.api.core` for the core group)."""
    reversed_group = ".".join(reversed(info.group.split("."))) if info.group \
        else "io.k8s.api.core"
    return f"{reversed_group}.{info.version}.{info.kind}"


def _gvk(info: KindInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def component(info: KindInfo, crd_schema: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The name and v3 schema of a kind (see the module docstring)."""
    gvk = [_gvk(info)]
    builtin = kubeschemas.name_of(info.group, info.version, info.kind)
    if crd_schema is None and builtin is not None:
        return builtin, kubeschemas.definitions()[builtin]
    if crd_schema is None:
        return _crd_name(info), {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "description": f"{info.kind} ({info.api_version})",
            "x-kubernetes-group-version-kind": gvk}
    properties = dict(crd_schema.get("properties") or {})
    standard = _standard_fields()
    for field in ("apiVersion", "kind", "metadata"):
        if field in standard:
            properties[field] = {**properties.get(field, {}), **standard[field]}
            if field == "metadata":
                properties[field].pop("type", None)
    return _crd_name(info), {**crd_schema, "properties": properties,
                             "x-kubernetes-group-version-kind": gvk}


def _standard_fields() -> dict[str, dict[str, Any]]:
    """`apiVersion`, `kind` and `metadata` as every Kubernetes kind declares them (taken from
    ConfigMap's definition), or nothing without the Kubernetes schemas."""
    name = kubeschemas.name_of("", "v1", "ConfigMap")
    if name is None:
        return {}
    properties = kubeschemas.definitions()[name]["properties"]
    return {field: properties[field] for field in ("apiVersion", "kind", "metadata")}


def _param(name: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string"},
            "uniqueItems": True}


def _patch_types(crd: bool) -> list[str]:
    """A CRD kind takes no strategic merge patch (kube-apiserver answers 415)."""
    media = ["application/json-patch+json", "application/merge-patch+json",
             "application/apply-patch+yaml"]
    return media if crd else [*media, "application/strategic-merge-patch+json"]


def _operation(info: KindInfo, verb: str, writes: bool, ref: str,
               crd: bool) -> dict[str, Any]:
    params = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")] \
        if writes else []
    if verb == "patch":
        params.append(_param("force"))
    schema = {"$ref": kubeschemas.COMPONENTS + ref}
    op: dict[str, Any] = {
        "operationId": f"{verb}{info.kind}", "parameters": params,
        "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": _gvk(info),
        "responses": {"200": {"description": "OK",
                              "content": {"application/json": {"schema": schema}}}}}
    if writes:
        media = _patch_types(crd) if verb == "patch" else ["application/json"]
        op["requestBody"] = {"content": {m: {"schema": schema} for m in media}, "required": True}
    return op


def _paths(info: KindInfo, ref: str, crd: bool) -> dict[str, Any]:
    base = "/" + gv_path(info)
    if info.namespaced:
        base += "/namespaces/{namespace}"
    collection = f"{base}/{info.plural}"
    item = collection + "/{name}"

    def op(verb: str, writes: bool) -> dict[str, Any]:
        return _operation(info, verb, writes, ref, crd)

    paths = {
        collection: {"get": op("list", False), "post": op("post", True),
                     "delete": op("deletecollection", False)},
        item: {"get": op("get", False), "put": op("put", True), "patch": op("patch", True),
               "delete": op("delete", False)}}
    if info.has_status:
        paths[item + "/status"] = {"get": op("get", False), "put": op("put", True),
                                   "patch": op("patch", True)}
    return paths


def _contents(kinds: Sequence[KindInfo], schema_of: SchemaOf
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The v3 paths and component schemas (with what they refer to) of `kinds`."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for info in kinds:
        crd_schema = schema_of(info)
        name, schema = component(info, crd_schema)
        paths.update(_paths(info, name, crd_schema is not None))
        schemas[name] = schema
    referred: set[str] = set()
    for schema in schemas.values():
        referred |= kubeschemas.references(schema)
    for name, schema in kubeschemas.closure(referred).items():
        schemas.setdefault(name, schema)
    return paths, dict(sorted(schemas.items()))


def group_version_document(kinds: Sequence[KindInfo], schema_of: SchemaOf,
                           path: str) -> dict[str, Any] | None:
    """The v3 document of `api/v1` or `apis/<group>/<version>`, or None if not served."""
    infos = [i for i in kinds if gv_path(i) == path]
    if not infos:
        return None
    paths, schemas = _contents(infos, schema_of)
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v" +
                                         kubeschemas.KUBERNETES_VERSION},
            "paths": paths, "components": {"schemas": schemas}}


def group_versions(kinds: Sequence[KindInfo]) -> list[str]:
    """The v3 document paths served, in discovery order."""
    return list(dict.fromkeys(gv_path(i) for i in kinds))


def root_document(hashes: dict[str, str]) -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document is, with its content hash."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
                      for gv, digest in hashes.items()}}


def encode(doc: Any) -> tuple[bytes, str]:
    """A document's JSON bytes and their hash (uppercase hex SHA-512, as kube-apiserver)."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


# ------------------------------------------------------------------------------------ v2

_V2_DROPPED = ("oneOf", "anyOf", "not", "nullable")


def _v2_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_v2_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _v2_schema(value) for key, value in node.items()
           if key not in _V2_DROPPED and key != "allOf"}
    refs = [s["$ref"] for s in node.get("allOf") or () if isinstance(s, dict) and "$ref" in s]
    if len(refs) == 1:
        out["$ref"] = refs[0]
    alternatives = {s.get("type") for s in node.get("oneOf") or () if isinstance(s, dict)}
    if alternatives and "type" not in out:  # IntOrString, Quantity: strings in Swagger 2.0
        out["type"] = "string"
        if alternatives == {"integer", "string"}:
            out["format"] = "int-or-string"
    if isinstance(out.get("$ref"), str):
        out["$ref"] = "#/definitions/" + out["$ref"].removeprefix(kubeschemas.COMPONENTS)
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in op.items() if key not in ("requestBody", "responses")}
    out["parameters"] = [{key: value for key, value in p.items() if key != "schema"}
                         | {"type": "string"} for p in op["parameters"]]
    schema = _v2_schema(op["responses"]["200"]["content"]["application/json"]["schema"])
    out["responses"] = {"200": {"description": "OK", "schema": schema}}
    if "requestBody" in op:
        out["consumes"] = list(op["requestBody"]["content"])
        out["parameters"].append({"name": "body", "in": "body", "required": True,
                                  "schema": schema})
    return out


def swagger_document(kinds: Sequence[KindInfo], schema_of: SchemaOf) -> dict[str, Any]:
    """`/openapi/v2`: one Swagger 2.0 document for every served kind."""
    paths, schemas = _contents(kinds, schema_of)
    return {"swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v" + kubeschemas.KUBERNETES_VERSION},
            "paths": {path: {method: _v2_operation(op) for method, op in item.items()}
                      for path, item in paths.items()},
            "definitions": {name: _v2_schema(schema) for name, schema in schemas.items()}}
