"""A ClientTrafficPolicy's `tls.clientValidation`, decoded: how clients' certificates are checked.

`client_validation(spec, errors)` reads `spec.tls.clientValidation` as Envoy Gateway defines it:
`caCertificateRefs` (Secrets, the default kind, or ConfigMaps; the CA bundle is their key
`ca.crt`; another namespace's with a ReferenceGrant, checked by the translation), `optional`
(a certificate is asked for, not required), `spkiHashes` (base64 SHA-256 of a certificate's
public key), `certificateHashes` (hex SHA-256 of the whole certificate) and `subjectAltNames`
(`dnsNames`, `emailAddresses`, `ipAddresses`, `uris`: string matches; regular expressions are
checked by `translate.policies.regexchecks`). `crl` and
`subjectAltNames.otherNames` are refused by the policy's generic check of unimplemented fields.
Problems are appended to `errors`, each naming the field and the fix.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MATCH_TYPES = ("Exact", "Prefix", "Suffix", "RegularExpression")
SAN_KINDS = {"dnsNames": "DNS", "emailAddresses": "EMAIL", "ipAddresses": "IP_ADDRESS",
             "uris": "URI"}  # field -> Envoy's SubjectAltNameMatcher type
_HEX_SHA256 = re.compile(r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$")
PATH = "spec.tls.clientValidation"


@dataclass(frozen=True)
class CARef:
    """A `caCertificateRefs` entry (`namespace` None: the policy's own)."""

    kind: str  # Secret or ConfigMap
    namespace: str | None
    name: str
    field: str  # where it is, for messages


@dataclass(frozen=True)
class SanMatch:
    """A subject alternative name a client certificate must have one of."""

    san_type: str  # one of SAN_KINDS' values
    match_type: str  # one of MATCH_TYPES
    value: str


@dataclass(frozen=True)
class ClientValidationSpec:
    ca_refs: tuple[CARef, ...] = ()
    optional: bool = False
    spki_hashes: tuple[str, ...] = ()
    certificate_hashes: tuple[str, ...] = ()
    subject_alt_names: tuple[SanMatch, ...] = ()


def client_validation(spec: Mapping[str, Any], errors: list[str],
                      ) -> ClientValidationSpec | None:
    """`spec.tls.clientValidation`, or None when the spec has none."""
    tls = spec.get("tls")
    raw = tls.get("clientValidation") if isinstance(tls, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    refs = []
    for i, ref in enumerate(raw.get("caCertificateRefs") or ()):
        at = f"{PATH}.caCertificateRefs[{i}]"
        if not isinstance(ref, Mapping) or not ref.get("name"):
            errors.append(f"{at}.name: a Secret or ConfigMap name is required: set it")
            continue
        group, kind = str(ref.get("group") or ""), str(ref.get("kind") or "Secret")
        if group != "" or kind not in ("Secret", "ConfigMap"):
            errors.append(f'{at}: kind "{kind}" in group "{group}" cannot hold a CA bundle: '
                          "reference a core Secret or ConfigMap (key ca.crt)")
            continue
        namespace = ref.get("namespace")
        refs.append(CARef(kind, str(namespace) if namespace else None, str(ref["name"]), at))
    spki = tuple(str(v) for v in raw.get("spkiHashes") or ())
    for i, value in enumerate(spki):
        if not _is_spki(value):
            errors.append(f"{PATH}.spkiHashes[{i}]: {value!r} is not a base64 SHA-256 digest "
                          "of a public key: use `openssl x509 -pubkey -noout | openssl pkey "
                          "-pubin -outform DER | openssl dgst -sha256 -binary | base64`")
    hashes = tuple(str(v) for v in raw.get("certificateHashes") or ())
    for i, value in enumerate(hashes):
        if not _HEX_SHA256.match(value):
            errors.append(f"{PATH}.certificateHashes[{i}]: {value!r} is not a hex SHA-256 "
                          "digest of a certificate: use `openssl x509 -noout -fingerprint "
                          "-sha256`")
    sans = _sans(raw.get("subjectAltNames"), errors)
    if not refs and not spki and not hashes:
        errors.append(f"{PATH}: caCertificateRefs, spkiHashes or certificateHashes is "
                      "required to check client certificates: set one")
    return ClientValidationSpec(tuple(refs), bool(raw.get("optional")), spki, hashes, sans)


def _is_spki(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _sans(raw: Any, errors: list[str]) -> tuple[SanMatch, ...]:
    if not isinstance(raw, Mapping):
        return ()
    out = []
    for key, san_type in SAN_KINDS.items():
        for i, item in enumerate(raw.get(key) or ()):
            kind = (item.get("type") or "Exact") if isinstance(item, Mapping) else None
            value = item.get("value") if isinstance(item, Mapping) else None
            if kind not in MATCH_TYPES or not isinstance(value, str) or not value:
                errors.append(f"{PATH}.subjectAltNames.{key}[{i}]: a type "
                              f"({', '.join(MATCH_TYPES)}) and a non-empty value are "
                              "required: set them")
                continue
            out.append(SanMatch(san_type, str(kind), value))
    return tuple(out)
