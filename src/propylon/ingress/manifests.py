"""Output manifests: apiVersion from the kinds registry, metadata with a namespace, and the
merges of filters and policy fragments several converters contribute to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from propylon.api.kinds import GATEWAY_GROUP, by_kind
from propylon.ingress.model import Json

EG_GROUP = "gateway.envoyproxy.io"


def manifest(kind: str, group: str, namespace: str, name: str, spec: Json) -> dict[str, Any]:
    info = by_kind(kind, group)
    return {"apiVersion": f"{group}/{info.version}" if group else info.version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": dict(spec)}


def gateway_api(kind: str, namespace: str, name: str, spec: Json) -> dict[str, Any]:
    return manifest(kind, GATEWAY_GROUP, namespace, name, spec)


def deep_merge(base: Json, more: Json) -> dict[str, Any]:
    """`more` merged into `base`: maps recursively, lists concatenated, other values replaced."""
    out = dict(base)
    for key, value in more.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


_MERGED = {"URLRewrite": "urlRewrite", "RequestHeaderModifier": "requestHeaderModifier",
           "ResponseHeaderModifier": "responseHeaderModifier"}


def merge_filters(filters: Iterable[Json]) -> list[dict[str, Any]]:
    """HTTPRoute filters with those of one mergeable type (a rule may have only one of each)
    joined into the first one's place; the others kept in order."""
    out: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for f in filters:
        kind = str(f.get("type"))
        field = _MERGED.get(kind)
        if field is None:
            out.append(dict(f))
        elif kind in index:
            i = index[kind]
            out[i] = {"type": kind, field: deep_merge(out[i][field], f[field])}
        else:
            index[kind] = len(out)
            out.append(dict(f))
    return out


def fixed_redirect(namespace: str, name: str, code: int,
                   location: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(HTTPRouteFilter, the rule filter naming it) answering `code` with exactly `location`,
    as nginx's `return <code> <url>` does (a RequestRedirect keeps the request's path and
    leaves well-known ports out)."""
    filter_ = manifest("HTTPRouteFilter", EG_GROUP, namespace, name, {"directResponse": {
        "statusCode": code, "header": {"set": [{"name": "Location", "value": location}]}}})
    return filter_, {"type": "ExtensionRef", "extensionRef": {
        "group": EG_GROUP, "kind": "HTTPRouteFilter", "name": name}}
