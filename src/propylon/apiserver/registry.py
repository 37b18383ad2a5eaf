"""The resource operations: create, get, list, update, patch, delete, on plain JSON objects.

This is the API server without HTTP. Each write runs under one asyncio lock: read the live
object, compute the object to store (defaults, see `defaulting`; immutable metadata kept,
status rules, generation bump, patch applied), validate that result and prune its unknown fields (`admission.admit`,
before the generation and the no-op check, so a write that only adds unknown fields changes
nothing), then store it under a new resourceVersion, in its kind's storage version
(`Catalog.storage_version`), and publish the change to watchers. A write that changes nothing
stores nothing and returns the live object, as a real API server does.

Rules kept from Kubernetes: a stale `metadata.resourceVersion` (in an update or inside a patch)
is a 409 Conflict; the main resource ignores `status` and the `status` subresource changes only
`status` (kinds with `has_status`); `generation` grows when anything outside metadata and status
changes; namespaced objects need their Namespace; deleting a Namespace deletes its objects;
built-in kinds get kube-apiserver's defaults (`builtindefaults`, through `defaulting`) and
Services their cluster IP and node ports (`serviceallocation`); a new Pod is Pending, with
its QoS class (`podstatus`).
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import json
import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import KindInfo, by_kind
from propylon.api.mergepatch import merge_patch
from propylon.apiserver import crds
from propylon.apiserver import patch as patches
from propylon.apiserver.admission import Validator, admit, prune_unknown
from propylon.apiserver.defaulting import Defaulter, Defaults
from propylon.apiserver.errors import (
    APIError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    namespace_not_found,
    not_found,
    unsupported_media_type,
)
from propylon.apiserver.events import Event, EventHub
from propylon.apiserver.fieldtypes import Shape, shape_of
from propylon.apiserver.managedfields import apply, record_apply, record_update
from propylon.apiserver.podstatus import initial_status
from propylon.apiserver.selectors import Matcher
from propylon.apiserver.serviceallocation import ServiceAllocation
from propylon.apiserver.storage import Storage

NAMESPACES = by_kind("Namespace", "")
SERVICES = by_kind("Service", "")
PODS = by_kind("Pod", "")
PROTECTED_NAMESPACES = ("default", "kube-system")
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def storage_key(info: KindInfo) -> str:
    return f"{info.plural}.{info.group}" if info.group else info.plural


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without(obj: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in fields}


def _relabel(info: KindInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as seen through `info`'s version (CRD versions share a store, unconverted)."""
    if obj.get("apiVersion") in (None, info.api_version):
        return obj
    return {**obj, "apiVersion": info.api_version}


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _without(obj.get("metadata", {}), "resourceVersion")
    return {**obj, "metadata": meta}


def _namespace_finalizers(namespace: dict[str, Any], old: dict[str, Any] | None
                          ) -> builtins.list[str]:
    """kube-apiserver's: a new Namespace gets the `kubernetes` finalizer (whose work, deleting
    the Namespace's objects, this server does when the Namespace is deleted); an update keeps
    the finalizers it had (only the finalize subresource changes them)."""
    if old is not None:
        return list((old.get("spec") or {}).get("finalizers") or [])
    asked = (namespace.get("spec") or {}).get("finalizers")
    finalizers = [f for f in asked if isinstance(f, str)] if isinstance(asked, list) else []
    return finalizers if "kubernetes" in finalizers else [*finalizers, "kubernetes"]


class Registry:
    """Objects of every kind in `storage`, with changes published on `hub`."""

    def __init__(self, storage: Storage, hub: EventHub, validator: Validator | None,
                 catalog: crds.Catalog | None = None, defaults: Defaults | None = None) -> None:
        self.storage = storage
        self.hub = hub
        self.catalog = catalog if catalog is not None else crds.Catalog(crds.builtin_kinds(gateway_api=True))
        self.validator = self.catalog.validator(validator)
        self.defaulter = Defaulter(self.catalog, defaults)
        for crd in storage.list(crds.CRD_STORAGE_KEY):
            self.catalog.put(crd)
        self.defaulter.refill(storage, self.catalog.kinds(), storage_key)
        self.lock = asyncio.Lock()
        self.services = ServiceAllocation(lambda: self.storage.list(storage_key(SERVICES)))

    # reads

    def get(self, info: KindInfo, namespace: str, name: str) -> dict[str, Any]:
        obj = self.storage.get(storage_key(info), namespace, name)
        if obj is None:
            raise not_found(info, name)
        return _relabel(info, obj)

    def list(self, info: KindInfo, namespace: str | None, match: Matcher) -> list[dict[str, Any]]:
        return [_relabel(info, o) for o in self.storage.list(storage_key(info), namespace)
                if match(o)]

    def list_json(self, info: KindInfo, namespace: str | None) -> builtins.list[str]:
        """Every object of `info` (in `namespace`) as JSON, decoded only when it must be
        relabelled: what a list without selectors sends, without decoding and encoding it."""
        return [body if version in (None, info.api_version)
                else json.dumps(_relabel(info, json.loads(body)))
                for body, version in self.storage.list_json(storage_key(info), namespace)]

    # writes

    async def create(self, info: KindInfo, namespace: str, body: Any, query: dict[str, str],
                     validation: str, manager: str | None = None,
                     applied: dict[str, Any] | None = None
                     ) -> tuple[dict[str, Any], builtins.list[str]]:
        async with self.lock:
            return self._create(info, namespace, body, query, validation, manager, applied)

    def _create(self, info: KindInfo, namespace: str, body: Any, query: dict[str, str],
                validation: str, manager: str | None, applied: dict[str, Any] | None
                ) -> tuple[dict[str, Any], builtins.list[str]]:
        obj = self._check_body(info, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits)
                             for _ in range(5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        self._require_namespace(info, namespace)
        name = meta.get("name") or ""
        if name and self.storage.get(storage_key(info), namespace, name) is not None:
            raise already_exists(info, name)
        for field in ("resourceVersion", "deletionTimestamp", "managedFields"):
            meta.pop(field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if info.has_status:
            obj.pop("status", None)
        obj = self.defaulter.fill(info, obj)
        self._defaults(info, obj, None)
        warnings = admit(info, obj, self.validator, validation)
        if applied is not None and manager:
            record_apply(obj, applied, manager, info, self._shape(info), now())
        else:
            record_update(obj, None, manager, info, self._shape(info), now(), False)
        return self._store(info, namespace, None, obj, query), warnings

    async def update(self, info: KindInfo, namespace: str, name: str, body: Any,
                     query: dict[str, str], validation: str, status: bool
                     ) -> tuple[dict[str, Any], builtins.list[str]]:
        new = self._check_body(info, namespace, body)
        if new["metadata"].get("name") != name:
            raise bad_request(f'the name of the object ({new["metadata"].get("name")}) does not '
                              f"match the name on the URL ({name})")
        async with self.lock:
            old = self.get(info, namespace, name)
            self._check_version(info, old, new)
            return self._replace(info, namespace, old, new, query, validation, status)

    async def patch(self, info: KindInfo, namespace: str, name: str, content_type: str,
                    body: Any, query: dict[str, str], validation: str, status: bool
                    ) -> tuple[dict[str, Any], builtins.list[str], bool]:
        """Returns the stored object, warnings, and whether it was created (apply only)."""
        manager = query.get("fieldManager")
        if content_type == APPLY_PATCH:
            if not manager:
                raise bad_request("PATCH requests for apply patch type require fieldManager: "
                                  "add ?fieldManager=<your-name> to the request")
        elif "force" in query:
            raise bad_request("force is only supported for apply patches "
                              "(Content-Type application/apply-patch+yaml)")
        if content_type == STRATEGIC_PATCH and info.group.endswith("gateway.networking.k8s.io"):
            raise unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
        async with self.lock:
            old = self.storage.get(storage_key(info), namespace, name)
            old = None if old is None else _relabel(info, old)
            applied_warnings: list[str] = []
            if content_type == APPLY_PATCH:
                body = self._check_body(info, namespace, body)
                applied_warnings = prune_unknown(body, self.validator, validation, old)
            if old is None and content_type == APPLY_PATCH and not status:
                obj = body
                if obj["metadata"].get("name") != name:
                    raise bad_request(f'the name of the applied object '
                                      f'({obj["metadata"].get("name")}) does not match the name '
                                      f"on the URL ({name})")
                created, warnings = self._create(info, namespace, obj, query, validation,
                                                 manager, copy.deepcopy(obj))
                return created, applied_warnings + warnings, True
            if old is None:
                raise not_found(info, name)
            if content_type == APPLY_PATCH and manager:
                new = apply(old, body, manager, info, self._shape(info), now(),
                            query.get("force") == "true", status,
                            lambda merged: self.defaulter.fill(info, merged))
            else:
                new = self._apply_patch(info, old, content_type, body)
            self._check_version(info, old, new)
            stored, warnings = self._replace(info, namespace, old, new, query, validation,
                                             status, skip_manager=content_type == APPLY_PATCH)
            return stored, applied_warnings + warnings, False

    async def delete(self, info: KindInfo, namespace: str, name: str, options: Any,
                     query: dict[str, str]) -> dict[str, Any]:
        async with self.lock:
            obj = self.get(info, namespace, name)
            preconditions = options.get("preconditions") if isinstance(options, dict) else None
            for field in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != obj["metadata"].get(field):
                    raise APIError(409, "Conflict",
                                   f"Precondition failed: {field} in precondition: {wanted}, "
                                   f"{field} in object meta: {obj['metadata'].get(field)}")
            if info == NAMESPACES and name in PROTECTED_NAMESPACES:
                raise APIError(403, "Forbidden", f'namespaces "{name}" is forbidden: this '
                                                 "namespace may not be deleted")
            if self._dry_run(query):
                return obj
            if info == NAMESPACES:
                self._delete_namespace_contents(name)
            return self._remove(info, namespace, obj)

    async def delete_collection(self, info: KindInfo, namespace: str | None, match: Matcher,
                                query: dict[str, str]) -> builtins.list[dict[str, Any]]:
        async with self.lock:
            doomed = self.list(info, namespace, match)
            if info == NAMESPACES:
                doomed = [o for o in doomed if o["metadata"]["name"] not in PROTECTED_NAMESPACES]
            if self._dry_run(query):
                return doomed
            for obj in doomed:
                if info == NAMESPACES:
                    self._delete_namespace_contents(obj["metadata"]["name"])
                self._remove(info, obj["metadata"].get("namespace", ""), obj)
            return doomed

    async def seed_namespace(self, name: str) -> None:
        """Create a Namespace if it does not exist."""
        if self.storage.get(storage_key(NAMESPACES), "", name) is None:
            await self.create(NAMESPACES, "", {"metadata": {"name": name}}, {}, "Strict")

    # internals

    def _check_body(self, info: KindInfo, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(f"the request body must be a JSON object ({info.kind})")
        obj = copy.deepcopy(body)
        api_version = obj.setdefault("apiVersion", info.api_version)
        kind = obj.setdefault("kind", info.kind)
        if api_version != info.api_version or kind != info.kind:
            raise bad_request(f"the object is {kind} ({api_version}) but the URL is for "
                              f"{info.kind} ({info.api_version}): send it to that kind's URL")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request(f"{info.kind}.metadata must be an object")
        if info.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object "
                                  f'({meta["namespace"]}) does not match the namespace sent on '
                                  f"the request ({namespace})")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _require_namespace(self, info: KindInfo, namespace: str) -> None:
        if info.namespaced and self.storage.get(storage_key(NAMESPACES), "", namespace) is None:
            raise namespace_not_found(namespace)

    def _check_version(self, info: KindInfo, old: dict[str, Any], new: dict[str, Any]) -> None:
        wanted = new.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != old["metadata"].get("resourceVersion"):
            raise conflict(info, old["metadata"]["name"])

    def _apply_patch(self, info: KindInfo, old: dict[str, Any], content_type: str,
                     body: Any) -> dict[str, Any]:
        try:
            if content_type == JSON_PATCH:
                result = patches.json_patch(old, body)
            elif content_type == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise patches.PatchError("the patch must be a JSON object")
                result = merge_patch(old, body)
            elif content_type == STRATEGIC_PATCH:
                result = patches.strategic_merge_patch(info.kind, old, body)
            else:
                raise unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH,
                                                            STRATEGIC_PATCH, APPLY_PATCH])
        except patches.PatchError as err:
            raise invalid(info, old["metadata"]["name"],
                          [{"reason": "FieldValueInvalid", "field": "",
                            "message": f"the patch does not apply: {err}"}]) from err
        if not isinstance(result, dict):
            raise bad_request(f"the patched {info.kind} is not a JSON object")
        return result

    def _replace(self, info: KindInfo, namespace: str, old: dict[str, Any],
                 new: dict[str, Any], query: dict[str, str], validation: str, status: bool,
                 skip_manager: bool = False) -> tuple[dict[str, Any], builtins.list[str]]:
        new = self._check_body(info, namespace, new)
        old_meta = old["metadata"]
        if status:
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            if "managedFields" in new["metadata"]:
                result["metadata"]["managedFields"] = new["metadata"]["managedFields"]
        else:
            result = new
            if info.has_status:
                if "status" in old:
                    result["status"] = old["status"]
                else:
                    result.pop("status", None)
            meta = result["metadata"]
            meta["name"] = old_meta["name"]
            for field in ("uid", "creationTimestamp", "deletionTimestamp"):
                if field in old_meta:
                    meta[field] = old_meta[field]
        result = self.defaulter.fill(info, result)
        if not status:
            self._defaults(info, result, old)
        warnings = admit(info, result, self.validator, validation, old)  # prunes unknown fields
        if not status:
            spec_changed = _without(result, "metadata", "status") != _without(old, "metadata",
                                                                              "status")
            meta = result["metadata"]
            meta["generation"] = old_meta.get("generation", 1) + (1 if spec_changed else 0)
        if not skip_manager:
            record_update(result, old, query.get("fieldManager"), info, self._shape(info), now(),
                          status)
        if _comparable(result) == _comparable(old):
            return old, warnings
        return self._store(info, namespace, old, result, query), warnings

    def _shape(self, info: KindInfo) -> Shape:
        return shape_of(info, self.catalog.schema(info))

    def _defaults(self, info: KindInfo, obj: dict[str, Any], old: dict[str, Any] | None
                  ) -> None:
        """What the server sets beyond its kind's defaults (filled before admission)."""
        if info == crds.CRD:
            obj["status"] = crds.established_status(obj, (old or {}).get("status"))
        elif info == NAMESPACES and isinstance(obj.get("spec", {}), dict):
            spec = {k: v for k, v in obj.get("spec", {}).items() if k != "finalizers"}
            finalizers = _namespace_finalizers(obj, old)
            obj["spec"] = {**spec, "finalizers": finalizers} if finalizers else spec
        elif info == SERVICES:
            self.services.fill(obj, old)
        elif info == PODS and old is None:
            obj["status"] = initial_status(obj)

    @staticmethod
    def _dry_run(query: dict[str, str]) -> bool:
        return query.get("dryRun") == "All"

    def _store(self, info: KindInfo, namespace: str, old: dict[str, Any] | None,
               obj: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        if self._dry_run(query):
            return obj
        name = obj["metadata"]["name"]
        stored = {**obj, "apiVersion": self.catalog.storage_version(info)}
        rv = self.storage.put(storage_key(info), namespace, name, stored)
        if info == crds.CRD:
            self.catalog.put(obj)
            self.defaulter.refill(self.storage, [i for i, _ in crds.kinds_of(obj)], storage_key)
        elif info == SERVICES:
            if old is not None:
                self.services.release(old)
            self.services.hold(obj)
        self.hub.publish(Event(rv, "ADDED" if old is None else "MODIFIED", storage_key(info),
                               copy.deepcopy(stored), old))
        return obj

    def _remove(self, info: KindInfo, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        rv = self.storage.delete(storage_key(info), namespace, obj["metadata"]["name"])
        if info == crds.CRD:
            self._delete_custom_objects(self.catalog.remove(obj["metadata"]["name"]))
        elif info == SERVICES:
            self.services.release(obj)
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(rv)
        self.hub.publish(Event(rv, "DELETED", storage_key(info), gone, obj))
        return gone

    def _delete_namespace_contents(self, namespace: str) -> None:
        for info in self.catalog.kinds():
            if info.namespaced:
                for obj in self.storage.list(storage_key(info), namespace):
                    self._remove(info, namespace, obj)

    def _delete_custom_objects(self, kinds: builtins.list[KindInfo]) -> None:
        """Delete the objects of a deleted CRD (unless a builtin kind still serves them)."""
        served = {storage_key(k) for k in self.catalog.kinds()}
        for info in kinds[:1]:
            if storage_key(info) not in served:
                for obj in self.storage.list(storage_key(info)):
                    self._remove(info, obj["metadata"].get("namespace", ""), obj)
