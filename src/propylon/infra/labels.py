"""The labels and owner reference of every proxy object Propylon writes to an API (no I/O).

Kubernetes mode's Deployments and Services (`kubernetes.resources`) and standalone mode's Pods
and Services that show the host's Envoy processes (`host.host_objects`) carry the same labels:
`COMPONENT_LABELS` (what lists them all), the Gateway's name and namespace (`selector_labels`,
which select a Gateway's pods) and the Gateway API's `gateway.networking.k8s.io/gateway-name`
(`own_labels`). Each is owned by its Gateway: `Owner.reference()` is the owner reference.
Their ports are named alike (`port_name`): `port-<n>` over TCP, `udp-<n>` over UDP (a port
number may be served over both).

A label value holds at most 63 characters and a Gateway name up to 253: a longer name becomes
its first 54 characters, a dash and 8 hex digits of its SHA-256 (`label_value`), so the labels
stay valid and distinct; the owner reference keeps the whole name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from propylon.ir.model import GatewayKey

MANAGED_BY = "propylon"
NAME_LABEL = "propylon.dev/gateway-name"
NAMESPACE_LABEL = "propylon.dev/gateway-namespace"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
LABEL_VALUE_MAX = 63
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


def label_value(name: str) -> str:
    """`name` as a label value: itself when it fits, else shortened with a hash of it."""
    if len(name) <= LABEL_VALUE_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:LABEL_VALUE_MAX - 9].rstrip('-.')}-{digest}"


def selector_labels(key: GatewayKey) -> dict[str, str]:
    """The labels that select a Gateway's pods (fixed for the Gateway's lifetime)."""
    return {**COMPONENT_LABELS, NAME_LABEL: label_value(key.name),
            NAMESPACE_LABEL: key.namespace}


def own_labels(key: GatewayKey) -> dict[str, str]:
    """Every label Propylon sets on a Gateway's objects: the selector labels and the Gateway
    API's gateway-name label. They win over `spec.infrastructure.labels`."""
    return {**selector_labels(key), GATEWAY_NAME_LABEL: label_value(key.name)}


def port_name(port: int, transport: str) -> str:
    """The name of a proxy's container or Service port for a listener port and transport."""
    return f"udp-{port}" if transport == "UDP" else f"port-{port}"
