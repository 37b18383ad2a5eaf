"""TLS certificates of HTTPS listeners.

`resolve_certificates(...)` turns a listener's certificateRefs into `ir.Secret`s named
`<namespace>/<name>`, or into a ResolvedRefs failure: a ref that is not a core Secret, a Secret in
another namespace without a ReferenceGrant (RefNotPermitted), a missing Secret, or one that is not
of type kubernetes.io/tls with PEM `tls.crt` and `tls.key` that Envoy would load
(InvalidCertificateRef; `key_pair`, used for client certificates too, checks them with
`pem.key_pair_problem`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from propylon.api.core import Secret
from propylon.api.gateway import GROUP, SecretRef
from propylon.ir.model import Secret as SecretIR
from propylon.translate import conditions as c
from propylon.translate import pem
from propylon.translate.references import Grants

TLS_TYPE = "kubernetes.io/tls"


@dataclass(frozen=True)
class CertificateError:
    reason: str
    message: str


def resolve_certificates(listener: str, gateway_namespace: str, refs: tuple[SecretRef, ...],
                         secrets: Mapping[tuple[str, str], Secret], grants: Grants,
                         owner_kind: str = "Gateway") -> tuple[SecretIR, ...] | CertificateError:
    """`owner_kind` is the kind whose listener holds the refs (Gateway or ListenerSet): the kind
    a ReferenceGrant must name in `from`."""
    if not refs:
        return CertificateError(c.INVALID_CERTIFICATE_REF, f'listener "{listener}" has no '
                                'tls.certificateRefs: reference a kubernetes.io/tls Secret')
    out = []
    for ref in refs:
        ns = ref.namespace or gateway_namespace
        where = f'listener "{listener}" certificateRef "{ns}/{ref.name}"'
        if ref.group != "" or ref.kind != "Secret":
            return CertificateError(c.INVALID_CERTIFICATE_REF, f'{where} has kind "{ref.kind}" in '
                                    f'group "{ref.group}": only core Secrets are supported')
        if not grants.allows(GROUP, owner_kind, gateway_namespace, "", "Secret", ns, ref.name):
            return CertificateError(c.REF_NOT_PERMITTED, f'{where} is in another namespace and no '
                                    f'ReferenceGrant in "{ns}" allows it from {owner_kind}s in '
                                    f'"{gateway_namespace}": create one')
        secret = secrets.get((ns, ref.name))
        if secret is None:
            return CertificateError(c.INVALID_CERTIFICATE_REF, f"{where}: no Secret of type "
                                    f"{TLS_TYPE} found (Secrets of other types are not read): "
                                    "create one of that type")
        pair = key_pair(secret)
        if isinstance(pair, str):
            return CertificateError(c.INVALID_CERTIFICATE_REF, f"{where}: {pair}")
        out.append(SecretIR(f"{ns}/{ref.name}", *pair))
    return tuple(out)


def key_pair(secret: Secret) -> tuple[str, str] | str:
    """The PEM certificate chain and key of a kubernetes.io/tls Secret, or what Envoy would
    refuse in it (`pem.key_pair_problem`), naming the Secret and the key, with the fix."""
    name = f'Secret "{secret.meta.namespace}/{secret.meta.name}"'
    if secret.type != TLS_TYPE:
        return f'{name} is of type "{secret.type}": use a {TLS_TYPE} Secret'
    cert, key = secret.value("tls.crt"), secret.value("tls.key")
    missing = [k for k, v in (("tls.crt", cert), ("tls.key", key)) if v is None]
    if cert is None or key is None:
        return (f"{name} has no {' and no '.join(missing)} as text (missing, or binary DER): put "
                "the PEM certificate chain in tls.crt and its private key in tls.key")
    problem = pem.key_pair_problem(cert, key)
    return (cert, key) if problem is None else f"{name}: {problem}"
