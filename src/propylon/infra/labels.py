"""The labels and owner reference of every proxy object Propylon writes to an API (no I/O).

Kubernetes mode's Deployments and Services (`kubernetes.resources`) and standalone mode's Pods
and Services that show the host's Envoy processes (`host.host_objects`) carry the same labels:
`COMPONENT_LABELS` (what lists them all), the Gateway's name and namespace (`selector_labels`,
which select a Gateway's pods) and the Gateway API's `gateway.networking.k8s.io/gateway-name`
(`own_labels`). Each is owned by its Gateway: `Owner.reference()` is the owner reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.ir.model import GatewayKey

MANAGED_BY = "propylon"
NAME_LABEL = "propylon.dev/gateway-name"
NAMESPACE_LABEL = "propylon.dev/gateway-namespace"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
COMPONENT_LABELS = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                    "app.kubernetes.io/managed-by": MANAGED_BY}


@dataclass(frozen=True)
class Owner:
    """The Gateway that owns the objects (its uid comes from the API)."""

    api_version: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """The controller owner reference to the Gateway, for `metadata.ownerReferences`."""
        return {"apiVersion": self.api_version, "kind": "Gateway", "name": self.name,
                "uid": self.uid, "controller": True, "blockOwnerDeletion": True}


def selector_labels(key: GatewayKey) -> dict[str, str]:
    """The labels that select a Gateway's pods (fixed for the Gateway's lifetime)."""
    return {**COMPONENT_LABELS, NAME_LABEL: key.name, NAMESPACE_LABEL: key.namespace}


def own_labels(key: GatewayKey) -> dict[str, str]:
    """Every label Propylon sets on a Gateway's objects: the selector labels and the Gateway
    API's gateway-name label. They win over `spec.infrastructure.labels`."""
    return {**selector_labels(key), GATEWAY_NAME_LABEL: key.name}
