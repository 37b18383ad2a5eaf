"""API discovery documents, built from the kinds the server serves (`crds.Catalog.kinds()`).

`/api` and `/apis` answer aggregated discovery (`APIGroupDiscoveryList`, apidiscovery.k8s.io/v2)
when the Accept header asks for it, with that exact Content-Type (kubectl ignores the document
otherwise); without it they answer the legacy `APIVersions` / `APIGroupList`, and `/api/v1` and
`/apis/<group>/<version>` answer the legacy `APIResourceList` kubectl falls back to (`/apis/<group>`
alone is not served: it answers 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from propylon.api.kinds import KindInfo

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


def _aggregated_content_type(accept: str) -> str | None:
    """The aggregated discovery media type the client accepts, if any (v2 preferred)."""
    offered = [part.replace(" ", "") for part in accept.split(",")]
    for version in ("v2", "v2beta1"):
        for part in offered:
            if "g=apidiscovery.k8s.io" in part and f"v={version};" in part + ";" \
                    and "as=APIGroupDiscoveryList" in part:
                return ("application/json;g=apidiscovery.k8s.io;"
                        f"v={version};as=APIGroupDiscoveryList")
    return None


def _groups(kinds: Sequence[KindInfo], core: bool) -> dict[str, list[KindInfo]]:
    groups: dict[str, list[KindInfo]] = {}
    for info in kinds:
        if (info.group == "") == core:
            groups.setdefault(info.group, []).append(info)
    return groups


def _gvk(info: KindInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def _aggregated_resource(info: KindInfo) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resource": info.plural, "responseKind": _gvk(info),
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular, "verbs": VERBS}
    if info.short_names:
        resource["shortNames"] = list(info.short_names)
    if info.categories:
        resource["categories"] = list(info.categories)
    if info.has_status:
        resource["subresources"] = [{"subresource": "status", "responseKind": _gvk(info),
                                     "verbs": STATUS_VERBS}]
    return resource


def aggregated(kinds: Sequence[KindInfo], core: bool, media_type: str) -> dict[str, Any]:
    """The `APIGroupDiscoveryList` for `/api` (core) or `/apis`."""
    api_version = "apidiscovery.k8s.io/" + ("v2beta1" if "v=v2beta1" in media_type else "v2")
    items = []
    for group, infos in _groups(kinds, core).items():
        versions: dict[str, list[dict[str, Any]]] = {}
        for info in infos:
            versions.setdefault(info.version, []).append(_aggregated_resource(info))
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append({"metadata": metadata, "versions": [
            {"version": v, "resources": r, "freshness": "Current"} for v, r in versions.items()]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {},
            "items": items}


def negotiate(accept: str) -> str | None:
    """The aggregated media type to answer `/api` or `/apis` with, or None for legacy."""
    return _aggregated_content_type(accept)


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _api_group(group: str, infos: list[KindInfo]) -> dict[str, Any]:
    versions = []
    for version in dict.fromkeys(i.version for i in infos):
        versions.append({"groupVersion": f"{group}/{version}", "version": version})
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(kinds: Sequence[KindInfo]) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_api_group(g, i) for g, i in _groups(kinds, core=False).items()]}


def api_resource_list(kinds: Sequence[KindInfo], group: str, version: str
                      ) -> dict[str, Any] | None:
    """The legacy `APIResourceList` of one group version, or None if not served."""
    infos = [i for i in kinds if i.group == group and i.version == version]
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in infos:
        resource: dict[str, Any] = {
            "name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
            "kind": info.kind, "verbs": VERBS}
        if info.short_names:
            resource["shortNames"] = list(info.short_names)
        if info.categories:
            resource["categories"] = list(info.categories)
        resources.append(resource)
        if info.has_status:
            resources.append({"name": f"{info.plural}/status", "singularName": "",
                              "namespaced": info.namespaced, "kind": info.kind,
                              "verbs": STATUS_VERBS})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
