"""Typed, frozen model of BackendTLSPolicy (gateway.networking.k8s.io/v1).

A BackendTLSPolicy tells the Gateway to speak TLS to the Services it targets (`targetRefs`, a
`sectionName` naming one Service port), how to verify them (`validation.caCertificateRefs` to
ConfigMaps holding `ca.crt`, or `wellKnownCACertificates: System`), which server name to send
as SNI and to expect in the certificate (`validation.hostname`), and optionally which Subject
Alternative Names to accept instead (`validation.subjectAltNames`, Hostname or URI).

The Gateway side of backend TLS is read here too: `backend_client_certificate(gateway)` is the
Secret a Gateway presents to its TLS backends (`spec.tls.backend.clientCertificateRef`).

Decoding is lenient like the other models: the API server validated the write, and the
translator turns whatever remains wrong into ancestor conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.gateway import SecretRef
from propylon.api.meta import ObjectMeta


@dataclass(frozen=True)
class PolicyTargetRef:
    group: str
    kind: str
    name: str
    section_name: str | None = None


@dataclass(frozen=True)
class LocalObjectRef:
    group: str
    kind: str
    name: str


@dataclass(frozen=True)
class SubjectAltName:
    type: str  # "Hostname" | "URI"
    value: str


@dataclass(frozen=True)
class BackendTLSPolicy:
    meta: ObjectMeta
    target_refs: tuple[PolicyTargetRef, ...]
    ca_certificate_refs: tuple[LocalObjectRef, ...]
    well_known_ca_certificates: str | None
    hostname: str
    subject_alt_names: tuple[SubjectAltName, ...] = ()

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> BackendTLSPolicy:
        spec = obj.get("spec") or {}
        validation = spec.get("validation") or {}
        return cls(
            ObjectMeta.of(obj),
            tuple(PolicyTargetRef(str(r.get("group") or ""), str(r.get("kind") or ""),
                                  str(r.get("name") or ""), r.get("sectionName") or None)
                  for r in spec.get("targetRefs") or () if isinstance(r, dict)),
            tuple(LocalObjectRef(str(r.get("group") or ""), str(r.get("kind") or ""),
                                 str(r.get("name") or ""))
                  for r in validation.get("caCertificateRefs") or () if isinstance(r, dict)),
            validation.get("wellKnownCACertificates") or None,
            str(validation.get("hostname") or ""),
            tuple(_san(s) for s in validation.get("subjectAltNames") or () if isinstance(s, dict)),
        )


def _san(raw: dict[str, Any]) -> SubjectAltName:
    kind = str(raw.get("type") or "")
    return SubjectAltName(kind, str(raw.get("uri" if kind == "URI" else "hostname") or ""))


def backend_client_certificate(gateway: dict[str, Any]) -> SecretRef | None:
    """A Gateway's `spec.tls.backend.clientCertificateRef`, if it has one."""
    tls = (gateway.get("spec") or {}).get("tls") or {}
    ref = (tls.get("backend") or {}).get("clientCertificateRef") if isinstance(tls, dict) else None
    if not isinstance(ref, dict):
        return None
    return SecretRef(str(ref.get("name") or ""), ref.get("namespace") or None,
                     str(ref.get("group") or ""), str(ref.get("kind") or "Secret"))
