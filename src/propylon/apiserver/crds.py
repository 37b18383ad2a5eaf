"""CustomResourceDefinitions: the kinds the server serves, changing while it runs.

A `Catalog` holds every served kind: the builtin ones it was started with (core kinds, and the
Gateway API kinds and Propylon's GatewayParameters in standalone mode) plus one `KindInfo` per
served version of each stored CustomResourceDefinition. The registry tells the catalog about
every CRD it stores or deletes (`put`, `remove`), and discovery, OpenAPI, Tables and the REST
paths read `kinds()`, so a `kubectl apply -f` of a CRD bundle makes its kinds usable at once,
as on a cluster. A CRD kind
shadows a builtin kind with the same group and plural.

From each version of a CRD the catalog takes the scope, names (plural, singular, short names,
categories), whether the status subresource exists, the `additionalPrinterColumns` (Name and Age
when there are none) and the `openAPIV3Schema`, which the OpenAPI documents publish for
`kubectl explain`. A builtin kind may be backed by a CRD file too (`builtin_schema`: Envoy
Gateway's kinds, `policy_schemas`), whose schema is used the same way. Versions are ordered by Kubernetes version priority (v1 > v1beta1 > v1alpha1),
so the preferred version comes first in discovery.

Objects of a kind with several versions share one store and are not converted (the CRD
`conversion: None` strategy): they are stored with the `apiVersion` of the storage version
(`storage_version`: the CRD's `storage: true` version; for a builtin kind, its first version)
and reads through another version relabel `apiVersion` only.
`validator()` checks CRDs themselves (names, scope, versions, exactly one storage version) and
hands every other object to the validator the server was given, adding the fields a CRD kind's
schema (a built-in kind's: Kubernetes' definition) does not declare as unknown fields (pruned, or
refused under Strict).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import (
    AGE,
    ENVOY_GATEWAY_GROUP,
    GATEWAY_GROUP,
    KINDS,
    PROPYLON_GROUP,
    KindInfo,
    PrinterColumn,
    served_versions,
)
from propylon.apiserver import kubeschemas, policy_schemas
from propylon.apiserver.structural import undeclared

CRD_GROUP = "apiextensions.k8s.io"
CRD_STORAGE_KEY = f"customresourcedefinitions.{CRD_GROUP}"
ADMISSION_GROUP = "admissionregistration.k8s.io"

CRD = KindInfo(CRD_GROUP, "v1", "CustomResourceDefinition", "customresourcedefinitions",
               "customresourcedefinition", False, ("crd", "crds"), ("api-extensions",), True,
               (PrinterColumn("Created At", "date", ".metadata.creationTimestamp"),))
# Stored only, not enforced: the upstream Gateway API bundle ships one of each.
ADMISSION_KINDS = (
    KindInfo(ADMISSION_GROUP, "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
             "validatingadmissionpolicy", False, ("vap",), ("api-extensions",), True, (AGE,)),
    KindInfo(ADMISSION_GROUP, "v1", "ValidatingAdmissionPolicyBinding",
             "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", False,
             ("vapb",), ("api-extensions",), False, (AGE,)),
)

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def builtin_kinds(gateway_api: bool) -> tuple[KindInfo, ...]:
    """The kinds a server starts with: `KINDS` (without the Gateway API, Envoy Gateway and
    Propylon kinds unless asked: on a cluster they come as CRDs) then their older served versions,
    CustomResourceDefinition and the admission policy kinds."""
    kinds = tuple(k for k in KINDS if gateway_api
                  or k.group not in (GATEWAY_GROUP, PROPYLON_GROUP, ENVOY_GATEWAY_GROUP))
    older = tuple(v for k in kinds for v in served_versions(k)[1:])
    return kinds + older + (CRD,) + ADMISSION_KINDS


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key: GA before beta before alpha, higher numbers first, other names last."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


@dataclass(frozen=True)
class FieldError:
    """A validation error in the shape `admission.admit` reads."""

    field: str
    reason: str
    message: str
    unknown: bool = False


def _columns(version: dict[str, Any]) -> tuple[PrinterColumn, ...]:
    columns = version.get("additionalPrinterColumns") or []
    if not columns:
        return (AGE,)
    return tuple(PrinterColumn(str(c.get("name", "")), str(c.get("type", "string")),
                               str(c.get("jsonPath", "")), int(c.get("priority") or 0),
                               str(c.get("description") or "")) for c in columns)


def kinds_of(crd: dict[str, Any]) -> list[tuple[KindInfo, dict[str, Any] | None]]:
    """One KindInfo (and its openAPIV3Schema) per served version of a CRD, preferred first."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served"):
            continue
        info = KindInfo(
            group=spec["group"], version=version["name"], kind=names["kind"],
            plural=names["plural"], singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            has_status="status" in (version.get("subresources") or {}),
            columns=_columns(version))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append((info, schema if isinstance(schema, dict) else None))
    out.sort(key=lambda pair: version_priority(pair[0].version))
    return out


def _storage_version(crd: dict[str, Any]) -> tuple[tuple[str, str], str]:
    """((group, plural), apiVersion of the version marked `storage`) of a valid CRD."""
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return (spec["group"], spec["names"]["plural"]), f'{spec["group"]}/{version}'


def crd_errors(crd: dict[str, Any]) -> list[FieldError]:
    """What makes a CRD unusable, as field errors (the subset of apiextensions checks we need)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("spec", "FieldValueRequired", "Required value")]
    errors = []
    given_names = spec.get("names")
    names: dict[str, Any] = given_names if isinstance(given_names, dict) else {}
    for field, value in (("spec.group", spec.get("group")),
                         ("spec.names.plural", names.get("plural")),
                         ("spec.names.kind", names.get("kind"))):
        if not isinstance(value, str) or not value:
            errors.append(FieldError(field, "FieldValueRequired", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(FieldError("spec.scope", "FieldValueNotSupported",
                                 f'Unsupported value: {spec.get("scope")!r}: supported values: '
                                 '"Cluster", "Namespaced"'))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errors.append(FieldError("spec.versions", "FieldValueRequired",
                                 "Required value: must have at least one version"))
        return errors
    for i, version in enumerate(versions):
        if not isinstance(version, dict) or not isinstance(version.get("name"), str):
            errors.append(FieldError(f"spec.versions[{i}].name", "FieldValueRequired",
                                     "Required value"))
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        errors.append(FieldError("spec.versions", "FieldValueInvalid",
                                 "Invalid value: must have exactly one version marked as storage"))
    expected = f'{names.get("plural")}.{spec.get("group")}'
    name = (crd.get("metadata") or {}).get("name")
    if not errors and name != expected:
        errors.append(FieldError("metadata.name", "FieldValueInvalid",
                                 f'Invalid value: "{name}": must be spec.names.plural+"."+'
                                 f'spec.group ("{expected}")'))
    return errors


def established_status(crd: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The status an API server gives an accepted CRD (Established, NamesAccepted), keeping
    transition times and stored versions from the `old` status."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec = crd.get("spec") or {}
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    previous = (old or {}).get("storedVersions") or []
    conditions = [{"type": t, "status": "True", "reason": r, "message": m,
                   "lastTransitionTime": stamp}
                  for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                  ("Established", "InitialNamesAccepted",
                                   "the initial names have been accepted"))]
    before = {c.get("type"): c for c in (old or {}).get("conditions") or []}
    for cond in conditions:
        if before.get(cond["type"], {}).get("status") == "True":
            cond["lastTransitionTime"] = before[cond["type"]].get("lastTransitionTime", stamp)
    return {"conditions": conditions, "acceptedNames": spec.get("names") or {},
            "storedVersions": list(dict.fromkeys([*previous, *stored]))}


Validator = Callable[[dict[str, Any]], list[Any]]


def _builtin_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """Kubernetes' definition of a built-in kind (None for other kinds)."""
    group, _, version = api_version.rpartition("/")
    name = kubeschemas.name_of(group, version, kind)
    return None if name is None else kubeschemas.source_definitions()[name]


class Catalog:
    """The served kinds: builtin ones plus those of the stored CRDs (see the module docstring)."""

    def __init__(self, builtin: Iterable[KindInfo],
                 builtin_schema: Callable[[KindInfo], dict[str, Any] | None] = policy_schemas.schema,
                 ) -> None:
        self._builtin = tuple(builtin)
        self._builtin_schema = builtin_schema
        self._crds: dict[str, list[tuple[KindInfo, dict[str, Any] | None]]] = {}
        self._kinds: tuple[KindInfo, ...] = ()
        self._paths: dict[tuple[str, str, str], KindInfo] = {}
        self._schemas: dict[KindInfo, dict[str, Any]] = {}
        self._by_gvk: dict[tuple[str, str], dict[str, Any]] = {}
        self._memo: dict[Any, Any] = {}
        self._crd_storage: dict[str, tuple[tuple[str, str], str]] = {}
        self._storage: dict[tuple[str, str], str] = {}
        self._rebuild()

    def put(self, crd: dict[str, Any]) -> None:
        """Serve (or re-serve) the kinds of a stored CRD."""
        if crd_errors(crd):
            return
        self._crds[crd["metadata"]["name"]] = kinds_of(crd)
        self._crd_storage[crd["metadata"]["name"]] = _storage_version(crd)
        self._rebuild()

    def remove(self, name: str) -> list[KindInfo]:
        """Stop serving a CRD's kinds; returns them (their objects are to be deleted)."""
        gone = [info for info, _ in self._crds.pop(name, [])]
        self._crd_storage.pop(name, None)
        self._rebuild()
        return gone

    def kinds(self) -> tuple[KindInfo, ...]:
        return self._kinds

    def by_path(self, group: str, version: str, plural: str) -> KindInfo | None:
        return self._paths.get((group, version, plural))

    def storage_version(self, info: KindInfo) -> str:
        """The `apiVersion` objects of `info`'s kind are stored with."""
        return self._storage.get((info.group, info.plural), info.api_version)

    def schema(self, info: KindInfo) -> dict[str, Any] | None:
        """The CRD's openAPIV3Schema of a kind: a served CRD's, or for a builtin kind backed by
        a CRD file (Envoy Gateway's) that file's; None for other builtin kinds."""
        schema = self._schemas.get(info)
        if schema is None and (info.api_version, info.kind) in self._builtin_by_gvk:
            schema = self._builtin_schema(info)
        return schema

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()` cached until the served kinds change (for OpenAPI documents)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def validator(self, base: Validator | None) -> Validator:
        """Checks CRDs with `crd_errors`, every other object with `base`; an object of a CRD
        kind, or of a built-in kind with a Kubernetes definition (`kubeschemas`), also gets an
        unknown-field error for each field its schema does not declare
        (`structural.undeclared`), so it is pruned, or refused under Strict, as on a cluster."""
        def validate(obj: dict[str, Any]) -> list[Any]:
            if obj.get("kind") == CRD.kind and obj.get("apiVersion") == CRD.api_version:
                return list(crd_errors(obj))
            errors = base(obj) if base is not None else []
            api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
            builtin = self._builtin_by_gvk.get((api_version, kind))
            schema = (self._by_gvk.get((api_version, kind))
                      or (self.schema(builtin) if builtin is not None else None)
                      or _builtin_schema(api_version, kind))
            if schema is not None:
                known = {e.field for e in errors if getattr(e, "unknown", False)}
                errors = [*errors, *(FieldError(path, "FieldValueInvalid",
                                                f'unknown field "{path}"', unknown=True)
                                     for path in undeclared(schema, obj,
                                                            kubeschemas.source_definitions())
                                     if path not in known)]
            return errors
        return validate

    def _rebuild(self) -> None:
        custom = sorted((pair for pairs in self._crds.values() for pair in pairs),
                        key=lambda pair: version_priority(pair[0].version))
        shadowed = {(info.group, info.plural) for info, _ in custom}
        builtin = [k for k in self._builtin if (k.group, k.plural) not in shadowed]
        self._kinds = tuple(builtin) + tuple(info for info, _ in custom)
        self._paths = {(k.group, k.version, k.plural): k for k in self._kinds}
        self._storage = {}
        for info in builtin:
            self._storage.setdefault((info.group, info.plural), info.api_version)
        self._storage.update(self._crd_storage.values())
        self._schemas = {info: schema for info, schema in custom if schema is not None}
        self._by_gvk = {(info.api_version, info.kind): schema
                        for info, schema in self._schemas.items()}
        self._builtin_by_gvk = {(info.api_version, info.kind): info for info in builtin}
        self._memo = {}
