"""The CA bundles of a ClientTrafficPolicy's `tls.clientValidation`, read and checked.

`resolve(policy, config_maps, secrets, grants, found)` reads the policy's
`caCertificateRefs` (key `ca.crt` of a ConfigMap or Secret; in another namespace only with a
ReferenceGrant there letting ClientTrafficPolicies of the policy's namespace reference it) and
returns the policy with a problem naming the ref and the fix for each one it cannot use (it
does not exist, lacks `ca.crt`, or holds no certificate Envoy would load:
`pem.ca_bundle_problem`), so the policy is Accepted False (its listeners then keep its last usable validation or refuse
every client: `client._validated`). A usable validation is recorded in
`found` (policy key -> `ir.ClientValidation`) for `client.governed`.

`referenced(objects)` lists the Secrets the ClientTrafficPolicies of a snapshot name as CA
bundles, which the controller hands to the translation with the other Opaque Secrets it may read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import replace
from typing import Any

from propylon.api.clientvalidation import CARef, ClientValidationSpec
from propylon.api.core import ConfigMap, Secret
from propylon.api.envoygateway import CLIENT_TRAFFIC_POLICY, GROUP, Policy, client_traffic
from propylon.ir.model import ClientValidation
from propylon.translate.pem import ca_bundle_problem
from propylon.translate.references import Grants

CA_KEY = "ca.crt"
Key = tuple[str, str]


def referenced(objects: Iterable[Mapping[str, Any]]) -> set[Key]:
    """(namespace, name) of every Secret the ClientTrafficPolicies among `objects` name."""
    out: set[Key] = set()
    for obj in objects:
        spec = obj.get("spec")
        found = client_traffic(spec)[0].client_validation if isinstance(spec, Mapping) else None
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        refs = found.ca_refs if found is not None else ()
        out.update((r.namespace or namespace, r.name) for r in refs if r.kind == "Secret")
    return out


def resolve(policy: Policy, config_maps: Mapping[Key, ConfigMap], secrets: Mapping[Key, Secret],
            grants: Grants, found: MutableMapping[Key, ClientValidation]) -> Policy:
    """`policy` with the problems of its CA refs; its usable validation put in `found`."""
    if '"clientValidation"' not in policy.spec:
        return policy
    spec = client_traffic(policy.spec_value())[0].client_validation
    if spec is None:
        return policy
    problems: list[str] = []
    bundle = "".join(pem.strip() + "\n" for ref in spec.ca_refs
                     if (pem := _bundle(policy, ref, config_maps, secrets, grants, problems)))
    if problems:
        problems[-1] += (" (meanwhile its listeners keep the policy's last usable client "
                         "validation, or refuse every client certificate)")
        return replace(policy, problems=(*policy.problems, *problems))
    if policy.problems:  # Envoy would refuse what the policy asks for
        return policy
    found[policy.key] = _validation(spec, bundle)
    return policy


def _validation(spec: ClientValidationSpec, bundle: str) -> ClientValidation:
    return ClientValidation(bundle, spki_hashes=spec.spki_hashes,
                            certificate_hashes=spec.certificate_hashes,
                            subject_alt_names=tuple((m.san_type, m.match_type, m.value)
                                                    for m in spec.subject_alt_names),
                            certificate_optional=spec.optional)


def _bundle(policy: Policy, ref: CARef, config_maps: Mapping[Key, ConfigMap],
            secrets: Mapping[Key, Secret], grants: Grants, problems: list[str]) -> str | None:
    """The PEM bundle `ref` names, or None with a problem."""
    own = policy.meta.namespace
    ns = ref.namespace or own
    where = f"{ref.field}: {ref.kind} {ns}/{ref.name}"
    if not grants.allows(GROUP, CLIENT_TRAFFIC_POLICY, own, "", ref.kind, ns, ref.name):
        problems.append(f"{where} is in another namespace and no ReferenceGrant there allows "
                        f"ClientTrafficPolicies of namespace {own} to reference it: create one "
                        f"in {ns}, or move the {ref.kind} to {own}")
        return None
    source = (config_maps if ref.kind == "ConfigMap" else secrets).get((ns, ref.name))
    pem = source.value(CA_KEY) if source is not None else None
    problem = (f"the {ref.kind} does not exist: create it with the PEM CA certificates under "
               f"{CA_KEY}" if source is None
               else f"the {ref.kind} has no key {CA_KEY}: add the PEM CA certificates there"
               if pem is None else ca_bundle_problem(pem, CA_KEY))
    if problem is not None:
        problems.append(f"{where}: {problem}")
        return None
    return pem
