"""Frontend client-certificate validation: the Gateway's `spec.tls.frontend` on HTTPS listeners.

`apply(listeners, gateway, config_maps, grants)` returns the listeners, every HTTPS one with the
validation of its
port (a `perPort` entry replaces `default`): CA certificates from core ConfigMaps (key `ca.crt`),
in another namespace only with a ReferenceGrant, and the mode (`AllowInsecureFallback` lets a
client without a valid certificate through). A listener whose CA cannot be used is not served:
ResolvedRefs False (InvalidCACertificateKind for a ref that is not a ConfigMap, RefNotPermitted,
InvalidCACertificateRef for a missing ConfigMap or one without a `ca.crt` Envoy would load,
`pem.ca_bundle_problem`) and Accepted False with NoValidCACertificate. A Gateway using the
insecure fallback says so with the condition InsecureFrontendValidationMode (reason
ConfigurationChanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from propylon.api.core import ConfigMap
from propylon.api.gateway import GROUP, FrontendValidation, Gateway
from propylon.ir.model import ClientValidation
from propylon.translate import conditions as c
from propylon.translate.pem import ca_bundle_problem
from propylon.translate.references import Grants
from propylon.translate.tls import CertificateError

INSECURE_FALLBACK = "AllowInsecureFallback"
INSECURE_MODE_CONDITION = "InsecureFrontendValidationMode"  # on the Gateway, when used
CA_KEY = "ca.crt"
NO_VALID_CA_CERTIFICATE = "NoValidCACertificate"
INVALID_CA_CERTIFICATE_REF = "InvalidCACertificateRef"
INVALID_CA_CERTIFICATE_KIND = "InvalidCACertificateKind"


def resolve(validation: FrontendValidation, namespace: str,
            config_maps: Mapping[tuple[str, str], ConfigMap],
            grants: Grants) -> ClientValidation | CertificateError:
    """The CA bundle and mode of one validation block of a Gateway in `namespace`."""
    bundle = []
    for ref in validation.ca_refs:
        ns = ref.namespace or namespace
        where = f'caCertificateRef "{ns}/{ref.name}"'
        if ref.group != "" or ref.kind != "ConfigMap":
            return CertificateError(INVALID_CA_CERTIFICATE_KIND, f'{where} has kind "{ref.kind}" '
                                    f'in group "{ref.group}": reference a core ConfigMap')
        if not grants.allows(GROUP, "Gateway", namespace, "", "ConfigMap", ns, ref.name):
            return CertificateError(c.REF_NOT_PERMITTED, f'{where} is in another namespace and no '
                                    f'ReferenceGrant in "{ns}" allows it from Gateways in '
                                    f'"{namespace}": create one')
        config_map = config_maps.get((ns, ref.name))
        pem = config_map.value(CA_KEY) if config_map is not None else None
        problem = ("the ConfigMap does not exist: create it" if config_map is None
                   else f"the ConfigMap has no key {CA_KEY}: add the PEM CA certificates there"
                   if pem is None else ca_bundle_problem(pem, CA_KEY))
        if problem is not None:
            return CertificateError(INVALID_CA_CERTIFICATE_REF, f"{where}: {problem}")
        assert pem is not None  # a missing ca.crt is a problem above
        bundle.append(pem.strip() + "\n")
    if not bundle:
        return CertificateError(INVALID_CA_CERTIFICATE_REF,
                                "validation has no caCertificateRefs: reference a CA ConfigMap")
    return ClientValidation("".join(bundle), optional=validation.mode == INSECURE_FALLBACK)


def apply(listeners: Iterable[Any], gateway: Gateway,
          config_maps: Mapping[tuple[str, str], ConfigMap], grants: Grants) -> list[Any]:
    """The listeners (`gateways.ListenerState`) of `gateway`, HTTPS ones with their
    `client_validation`."""
    return [_validated(ls, gateway, config_maps, grants) for ls in listeners]


def _validated(ls: Any, gateway: Gateway, config_maps: Mapping[tuple[str, str], ConfigMap],
               grants: Grants) -> Any:
    validation = gateway.frontend_validation(ls.spec.port)
    if ls.spec.protocol != "HTTPS" or not ls.usable or validation is None:
        return ls
    result = resolve(validation, gateway.meta.namespace, config_maps, grants)
    if isinstance(result, CertificateError):
        ls.conditions.set(c.RESOLVED_REFS, False, result.reason, result.message)
        ls.conditions.set(c.ACCEPTED, False, NO_VALID_CA_CERTIFICATE,
                          "client certificate validation has no usable CA certificate: see "
                          "ResolvedRefs")
        return replace(ls, usable=False, servable=False)
    return replace(ls, client_validation=result)
