"""BackendTLSPolicy: which Service ports the proxies reach over TLS, and the policies' status.

`BackendTLS(policies, services, config_maps)` resolves every policy once:

- targets: a targetRef names a core Service, and optionally one of its ports by name
  (`sectionName`). A port gets the policy naming it if any, else the policy naming the whole
  Service. Two policies naming the same Service and section conflict: the oldest wins (then the
  first by namespace/name); the others are Accepted=False, reason Conflicted, on every ancestor.
- validation: `caCertificateRefs` must be core ConfigMaps (InvalidKind otherwise) holding a PEM
  `ca.crt` that Envoy would load (`pem.ca_bundle_problem`; InvalidCACertificateRef otherwise,
  with the parser's error); their certificates form one trust bundle. With no
  usable CA the policy is Accepted=False, reason NoValidCACertificate, and the ports it governs get
  no endpoints, so requests fail with a 5xx instead of reaching the backend unverified.
  `wellKnownCACertificates: System` trusts the proxy's system roots; other values are refused
  with reason Invalid. `hostname` is the SNI and, unless `subjectAltNames` lists the names to
  accept (Hostname or URI), the name the certificate must carry.

`for_cluster(name)` gives `Backends` the `UpstreamTLS` of a cluster, and `statuses(...)` writes
each policy's `status.ancestors`: one entry per Gateway of ours whose attached routes use a port
the policy targets. `gateway_client_certificate(...)` resolves a Gateway's
`spec.tls.backend.clientCertificateRef`, the certificate the proxies present to TLS backends
(RefNotPermitted or InvalidClientCertificateRef on the Gateway's ResolvedRefs otherwise, with
`tls.key_pair`'s message for a Secret Envoy would refuse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api.backendtlspolicy import (
    BackendTLSPolicy,
    LocalObjectRef,
    backend_client_certificate,
)
from propylon.api.core import ConfigMap, Secret, Service
from propylon.api.gateway import GROUP, SecretRef
from propylon.api.meta import stored_conditions
from propylon.ir.model import Secret as SecretIR
from propylon.ir.model import SubjectAltName, TrustBundle, UpstreamTLS
from propylon.translate import conditions as c
from propylon.translate.gateways import GatewayState, all_listeners
from propylon.translate.pem import ca_bundle_problem
from propylon.translate.placements import ListenerId, Placements
from propylon.translate.references import Grants
from propylon.translate.statuses import ObjectRef, ParentStatus, PolicyStatus
from propylon.translate.tls import TLS_TYPE, CertificateError, key_pair
from propylon.translate.types import Now, StatusUpdate

KIND = "BackendTLSPolicy"
NO_VALID_CA_CERTIFICATE = "NoValidCACertificate"
INVALID_CA_CERTIFICATE_REF = "InvalidCACertificateRef"
INVALID_CLIENT_CERTIFICATE_REF = "InvalidClientCertificateRef"
SYSTEM = "System"


@dataclass(frozen=True)
class Governed:
    """What a Service port gets: TLS settings, or None when its policy cannot be used."""

    tls: UpstreamTLS | None


@dataclass
class _Resolved:
    policy: BackendTLSPolicy
    conditions: list[tuple[str, bool, str, str]]
    tls: UpstreamTLS | None
    conflicted_with: str | None = None


def cluster_name(namespace: str, service: str, port: int) -> str:
    """The IR cluster of one Service port (shared with `Backends`)."""
    return f"{namespace}/{service}/{port}"


class BackendTLS:
    def __init__(self, policies: Iterable[dict[str, Any]], services: Iterable[Service],
                 config_maps: Iterable[ConfigMap]) -> None:
        self._objects = {_key(o): o for o in policies}
        self.config_maps = maps = {(m.meta.namespace, m.meta.name): m for m in config_maps}
        ordered = sorted(map(BackendTLSPolicy.decode, self._objects.values()), key=lambda p: (p.meta.creation_timestamp, p.meta.namespace,
                                                  p.meta.name))
        self._resolved = {_key_of(p): _resolve(p, maps) for p in ordered}
        winners: dict[tuple[str, str, str | None], _Resolved] = {}
        for r in self._resolved.values():
            for ref in r.policy.target_refs:
                if ref.group != "" or ref.kind != "Service":
                    continue
                key = (r.policy.meta.namespace, ref.name, ref.section_name)
                if key in winners and winners[key] is not r:
                    r.conflicted_with = winners[key].policy.meta.name
                else:
                    winners[key] = r
        self._by_cluster: dict[str, list[_Resolved]] = {}
        self._governing: dict[str, _Resolved] = {}
        for svc in services:
            ns, name = svc.meta.namespace, svc.meta.name
            for port in svc.ports:
                cluster = cluster_name(ns, name, port.port)
                named = winners.get((ns, name, port.name)) if port.name else None
                whole = winners.get((ns, name, None))
                if named or whole:
                    self._governing[cluster] = named or whole  # type: ignore[assignment]
                self._by_cluster[cluster] = [
                    r for r in self._resolved.values()
                    if r.policy.meta.namespace == ns and any(
                        t.group == "" and t.kind == "Service" and t.name == name
                        and t.section_name in (None, port.name or None)
                        for t in r.policy.target_refs)]

    def for_cluster(self, name: str) -> Governed | None:
        """None when no policy governs this Service port (plaintext)."""
        governing = self._governing.get(name)
        return None if governing is None else Governed(governing.tls)

    def statuses(self, states: Mapping[tuple[str, str], GatewayState],
                 placements: Mapping[ListenerId, Placements], controller_name: str,
                 now: Now) -> list[StatusUpdate]:
        """Every policy's ancestors of this controller: the Gateways (of `states`, ours) whose
        attached routes (on their own listeners or their ListenerSets') use a Service port it
        targets; call it once routes of every kind are attached. A policy with none gets an empty list,
        which clears entries this controller wrote before."""
        if not self._resolved:
            return []
        ancestors: dict[tuple[str, str], set[tuple[str, str]]] = {k: set() for k in self._resolved}
        for gateway, state in states.items():
            for ls in all_listeners(state):
                for attachment in placements[ls.at].routes():
                    for cluster in attachment.translated.clusters:
                        for r in self._by_cluster.get(cluster, ()):
                            ancestors[_key_of(r.policy)].add(gateway)
        out = []
        for key, r in self._resolved.items():
            obj = self._objects[key]
            old = {_ref_key(a.get("ancestorRef") or {}): stored_conditions(a.get("conditions"))
                   for a in (obj.get("status") or {}).get("ancestors") or ()
                   if isinstance(a, dict) and a.get("controllerName") == controller_name}
            entries = []
            for ns, name in sorted(ancestors[key]):
                conds = c.Conditions(old.get((ns, name), ()), r.policy.meta.generation, now)
                for type_, status, reason, message in _conditions(r):
                    conds.set(type_, status, reason, message)
                entries.append(ParentStatus(ObjectRef(GROUP, "Gateway", ns, name),
                                            controller_name, conds.as_tuple()))
            out.append(StatusUpdate(str(obj.get("apiVersion") or f"{GROUP}/v1"), KIND,
                                    r.policy.meta.namespace, r.policy.meta.name,
                                    r.policy.meta.generation, PolicyStatus(tuple(entries))))
        return out


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _key_of(policy: BackendTLSPolicy) -> tuple[str, str]:
    return (policy.meta.namespace, policy.meta.name)


def _ref_key(ref: dict[str, Any]) -> tuple[str, str]:
    return (str(ref.get("namespace") or ""), str(ref.get("name") or ""))


def _conditions(r: _Resolved) -> list[tuple[str, bool, str, str]]:
    if r.conflicted_with is None:
        return r.conditions
    return [(c.ACCEPTED, False, c.CONFLICTED,
             f'BackendTLSPolicy "{r.conflicted_with}" targets the same Service and section and '
             f'takes precedence (older, or first by name): remove one of them or target '
             f'another port with sectionName'),
            *(cond for cond in r.conditions if cond[0] != c.ACCEPTED)]


def ca_bundle(refs: Iterable[LocalObjectRef], ns: str, maps: Mapping[tuple[str, str], ConfigMap],
              ) -> tuple[list[str], list[tuple[str, str]]]:
    """The PEM CA certificates of `refs` (core ConfigMaps of `ns`, key `ca.crt`), and the
    problems (condition reason, message) of the ones that cannot be used."""
    pems: list[str] = []
    problems: list[tuple[str, str]] = []
    for ref in refs:
        where = f'caCertificateRef "{ref.name}"'
        if ref.group != "" or ref.kind != "ConfigMap":
            problems.append((c.INVALID_KIND, f'{where} has kind "{ref.kind}" in group '
                                             f'"{ref.group}": only core ConfigMaps are supported'))
            continue
        cm = maps.get((ns, ref.name))
        pem = cm.value("ca.crt") if cm is not None else None
        problem = ("not found: create it" if cm is None
                   else "has no key ca.crt: add the PEM CA certificates there" if pem is None
                   else ca_bundle_problem(pem))
        if problem is not None:
            problems.append((INVALID_CA_CERTIFICATE_REF,
                             f'{where}: ConfigMap "{ns}/{ref.name}" {problem}'))
        elif pem is not None:  # a missing ca.crt is a problem above
            pems.append(pem.strip() + "\n")
    return pems, problems


def _resolve(policy: BackendTLSPolicy, maps: Mapping[tuple[str, str], ConfigMap]) -> _Resolved:
    ns = policy.meta.namespace
    pems, problems = ca_bundle(policy.ca_certificate_refs, ns, maps)
    conditions: list[tuple[str, bool, str, str]] = []
    if problems:
        reason = next((r for r, _ in problems if r == c.INVALID_KIND), problems[0][0])
        conditions.append((c.RESOLVED_REFS, False, reason, "; ".join(m for _, m in problems)))
    else:
        conditions.append((c.RESOLVED_REFS, True, "ResolvedRefs", "all references are resolved"))
    well_known = policy.well_known_ca_certificates
    if well_known is not None and well_known != SYSTEM:
        conditions.insert(0, (c.ACCEPTED, False, c.INVALID,
                              f'wellKnownCACertificates "{well_known}" is not supported: use '
                              f'"{SYSTEM}" or caCertificateRefs'))
        return _Resolved(policy, conditions, None)
    if well_known is None and not pems:
        conditions.insert(0, (c.ACCEPTED, False, NO_VALID_CA_CERTIFICATE,
                              "no caCertificateRef holds a usable CA certificate, so the backend "
                              "cannot be verified and requests to it fail: fix the references"))
        return _Resolved(policy, conditions, None)
    trust = TrustBundle(f"backendtls/{ns}/{policy.meta.name}", "".join(pems)) if pems else None
    sans = tuple(SubjectAltName("URI" if s.type == "URI" else "DNS", s.value)
                 for s in policy.subject_alt_names) or (SubjectAltName("DNS", policy.hostname),)
    conditions.insert(0, (c.ACCEPTED, True, "Accepted", "the policy is accepted"))
    return _Resolved(policy, conditions, UpstreamTLS(policy.hostname, trust, sans))


def gateway_client_certificate(gateway: dict[str, Any], secrets: Mapping[tuple[str, str], Secret],
                               grants: Grants) -> SecretIR | CertificateError | None:
    """The certificate a Gateway presents to TLS backends (None: it has none configured)."""
    ref = backend_client_certificate(gateway)
    if ref is None:
        return None
    return _client_certificate(_key(gateway)[0], ref, secrets, grants)


def usable(certificate: SecretIR | CertificateError | None) -> SecretIR | None:
    return certificate if isinstance(certificate, SecretIR) else None


def _client_certificate(gateway_namespace: str, ref: SecretRef,
                        secrets: Mapping[tuple[str, str], Secret],
                        grants: Grants) -> SecretIR | CertificateError:
    ns = ref.namespace or gateway_namespace
    where = f'spec.tls.backend.clientCertificateRef "{ns}/{ref.name}"'
    if ref.group != "" or ref.kind != "Secret":
        return CertificateError(INVALID_CLIENT_CERTIFICATE_REF,
                                f'{where} has kind "{ref.kind}" in group "{ref.group}": only core '
                                f'Secrets are supported')
    if not grants.allows(GROUP, "Gateway", gateway_namespace, "", "Secret", ns, ref.name):
        return CertificateError(c.REF_NOT_PERMITTED,
                                f'{where} is in another namespace and no ReferenceGrant in "{ns}" '
                                f'allows it from Gateways in "{gateway_namespace}": create one')
    secret = secrets.get((ns, ref.name))
    if secret is None:
        return CertificateError(INVALID_CLIENT_CERTIFICATE_REF,
                                f"{where}: no Secret of type {TLS_TYPE} found (Secrets of other "
                                f"types are not read): create one of that type")
    pair = key_pair(secret)
    if isinstance(pair, str):
        return CertificateError(INVALID_CLIENT_CERTIFICATE_REF, f"{where}: {pair}")
    return SecretIR(f"{ns}/{ref.name}", *pair)
