"""Propylon's GatewayParameters (propylon.dev/v1alpha1) and the parametersRefs that name it.

A GatewayClass's `spec.parametersRef` (with a namespace) gives the defaults of every Gateway of
the class; a Gateway's `spec.infrastructure.parametersRef` (always in the Gateway's namespace)
overrides them field by field. `ParametersRef.of_class()` / `of_gateway()` read the references,
`GatewayParameters.decode()` the object. Decoding is lenient (the API server validated the
write): a field of the wrong type is read as unset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from propylon.api.meta import ObjectMeta

KIND = "GatewayParameters"


@dataclass(frozen=True)
class ParametersRef:
    group: str
    kind: str
    name: str
    namespace: str | None  # None: the GatewayClass's ref has no namespace

    @classmethod
    def of_class(cls, obj: dict[str, Any]) -> ParametersRef | None:
        return cls._read((obj.get("spec") or {}).get("parametersRef"), None)

    @classmethod
    def of_gateway(cls, obj: dict[str, Any]) -> ParametersRef | None:
        infra = (obj.get("spec") or {}).get("infrastructure") or {}
        namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
        return cls._read(infra.get("parametersRef"), namespace)

    @classmethod
    def _read(cls, ref: Any, namespace: str | None) -> ParametersRef | None:
        if not isinstance(ref, dict):
            return None
        return cls(str(ref.get("group") or ""), str(ref.get("kind") or ""),
                   str(ref.get("name") or ""),
                   namespace or (str(ref["namespace"]) if ref.get("namespace") else None))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}.{self.group or 'core'} {where}{self.name}"


def _pairs(value: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(value, dict):
        return None
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


def _json(value: Any, kind: type) -> str | None:
    return json.dumps(value, sort_keys=True) if isinstance(value, kind) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _names(value: Any) -> tuple[str, ...] | None:
    """imagePullSecrets ([{name: ...}]) as the names."""
    if not isinstance(value, list):
        return None
    return tuple(str(v["name"]) for v in value if isinstance(v, dict) and v.get("name"))


@dataclass(frozen=True)
class GatewayParameters:
    """The spec of a GatewayParameters object; None: the field is not set."""

    meta: ObjectMeta
    image: str | None = None
    replicas: int | None = None
    resources: str | None = None  # canonical JSON
    node_selector: tuple[tuple[str, str], ...] | None = None
    tolerations: str | None = None  # canonical JSON
    affinity: str | None = None  # canonical JSON
    pod_labels: tuple[tuple[str, str], ...] | None = None
    pod_annotations: tuple[tuple[str, str], ...] | None = None
    service_type: str | None = None
    concurrency: int | None = None
    autoscaling: str | None = None  # canonical JSON
    disruption_budget: str | None = None  # canonical JSON
    topology_spread: str | None = None  # canonical JSON
    priority_class: str | None = None
    image_pull_secrets: tuple[str, ...] | None = None
    pod_security_context: str | None = None  # canonical JSON
    container_security_context: str | None = None  # canonical JSON

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> GatewayParameters:
        spec = obj.get("spec") or {}
        return cls(
            ObjectMeta.of(obj),
            _str(spec.get("image")),
            _int(spec.get("replicas")),
            _json(spec.get("resources"), dict),
            _pairs(spec.get("nodeSelector")),
            _json(spec.get("tolerations"), list),
            _json(spec.get("affinity"), dict),
            _pairs(spec.get("podLabels")),
            _pairs(spec.get("podAnnotations")),
            _str(spec.get("serviceType")),
            _int(spec.get("concurrency")),
            _json(spec.get("autoscaling"), dict),
            _json(spec.get("podDisruptionBudget"), dict),
            _json(spec.get("topologySpreadConstraints"), list),
            _str(spec.get("priorityClassName")),
            _names(spec.get("imagePullSecrets")),
            _json(spec.get("podSecurityContext"), dict),
            _json(spec.get("securityContext"), dict),
        )
