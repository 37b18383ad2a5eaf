"""An Ingress backend as a Gateway API backendRef: a Service port by number, or by name resolved
through the Service's manifest (when the conversion was given it); resource backends are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from propylon.ingress.model import Backend, Json


def backend_ref(namespace: str, backend: Backend,
                services: Mapping[tuple[str, str], Json]) -> tuple[dict[str, Any] | None, str]:
    """(backendRef, "") or (None, why not and what to do)."""
    if backend.resource:
        return None, (f"resource backend {backend.resource}: Gateway API routes send only to "
                      "Services (or Envoy Gateway Backends): serve the content from a Service")
    if not backend.service:
        return None, "no backend Service: name one in backend.service"
    if backend.port_number is not None:
        return {"name": backend.service, "port": backend.port_number}, ""
    service = services.get((namespace, backend.service))
    if service is None:
        return None, (f'port "{backend.port_name}" of Service {namespace}/{backend.service} is '
                      "named, and the Service was not given: include the Service's manifest or "
                      "write the port number")
    for port in (service.get("spec") or {}).get("ports") or ():
        if port.get("name") == backend.port_name and isinstance(port.get("port"), int):
            return {"name": backend.service, "port": port["port"]}, ""
    return None, (f'Service {namespace}/{backend.service} has no port named '
                  f'"{backend.port_name}": write an existing port name or number')
