"""OpenAPI v3 documents: just enough for `kubectl apply` and `kubectl explain`.

Before a write, kubectl reads `/openapi/v3` and the document of each group version it touches,
and leaves validation to the server only if that document declares a PATCH operation (with
`x-kubernetes-group-version-kind`) that accepts the `fieldValidation` query parameter. Each
group-version document therefore lists the usual paths and operations of every kind, and one
permissive schema per kind (any fields allowed; the server validates) tagged with its
group-version-kind; a kind defined by a CRD publishes that CRD's openAPIV3Schema instead (what
`kubectl explain` reads). Core kinds get no schema here, so kubectl computes strategic merge
patches from its compiled-in types and their merge keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from propylon.api.kinds import KindInfo

SchemaOf = Callable[[KindInfo], dict[str, Any] | None]


def _gv_path(info: KindInfo) -> str:
    return f"apis/{info.group}/{info.version}" if info.group else f"api/{info.version}"


def schema_name(info: KindInfo) -> str:
    """`io.k8s.networking.gateway.v1.Gateway` style: the group reversed, then version and kind."""
    if not info.group:
        return f"io.k8s.api.core.{info.version}.{info.kind}"
    reversed_group = ".".join(reversed(info.group.split(".")))
    return f"{reversed_group}.{info.version}.{info.kind}"


def _param(name: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string"},
            "uniqueItems": True}


def _operation(info: KindInfo, verb: str, writes: bool) -> dict[str, Any]:
    params = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")] \
        if writes else []
    if verb == "patch":
        params.append(_param("force"))
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{schema_name(info)}"} \
        if info.group else {"type": "object"}
    op: dict[str, Any] = {
        "operationId": f"{verb}{info.kind}", "parameters": params,
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": info.group, "version": info.version,
                                            "kind": info.kind},
        "responses": {"200": {"description": "OK",
                              "content": {"application/json": {"schema": ref}}}}}
    if writes:
        media = ["application/json-patch+json", "application/merge-patch+json",
                 "application/apply-patch+yaml"] if verb == "patch" else ["application/json"]
        if verb == "patch" and not info.group.endswith("gateway.networking.k8s.io"):
            media.append("application/strategic-merge-patch+json")
        op["requestBody"] = {"content": {m: {"schema": ref} for m in media}, "required": True}
    return op


def _paths(info: KindInfo) -> dict[str, Any]:
    base = "/" + _gv_path(info)
    if info.namespaced:
        base += "/namespaces/{namespace}"
    collection = f"{base}/{info.plural}"
    item = collection + "/{name}"
    paths = {
        collection: {"get": _operation(info, "list", False),
                     "post": _operation(info, "post", True),
                     "delete": _operation(info, "deletecollection", False)},
        item: {"get": _operation(info, "get", False), "put": _operation(info, "put", True),
               "patch": _operation(info, "patch", True),
               "delete": _operation(info, "delete", False)}}
    if info.has_status:
        paths[item + "/status"] = {"get": _operation(info, "get", False),
                                   "put": _operation(info, "put", True),
                                   "patch": _operation(info, "patch", True)}
    return paths


def _schema(info: KindInfo, crd_schema: dict[str, Any] | None) -> dict[str, Any]:
    gvk = [{"group": info.group, "version": info.version, "kind": info.kind}]
    if crd_schema is not None:
        return {**crd_schema, "x-kubernetes-group-version-kind": gvk}
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "description": f"{info.kind} ({info.api_version})",
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True},
                           "spec": {"type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True},
                           "status": {"type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}},
            "x-kubernetes-group-version-kind": gvk}


def group_version_document(kinds: Sequence[KindInfo], schema_of: SchemaOf,
                           gv_path: str) -> dict[str, Any] | None:
    """The document for `api/v1` or `apis/<group>/<version>`, or None if not served."""
    infos = [i for i in kinds if _gv_path(i) == gv_path]
    if not infos:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for info in infos:
        paths.update(_paths(info))
        if info.group:
            schemas[schema_name(info)] = _schema(info, schema_of(info))
    return {"openapi": "3.0.0", "info": {"title": "Propylon", "version": gv_path},
            "paths": paths, "components": {"schemas": schemas}}


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def root_document(kinds: Sequence[KindInfo], schema_of: SchemaOf) -> dict[str, Any]:
    """`/openapi/v3`: where each group version's document is, with a content hash."""
    paths = {}
    for gv in dict.fromkeys(_gv_path(i) for i in kinds):
        doc = group_version_document(kinds, schema_of, gv)
        assert doc is not None
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(doc)}"}
    return {"paths": paths}
