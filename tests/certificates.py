"""Certificates for tests, built one way: `certificate()` for any key a test needs (RSA, EC,
Ed25519, Ed448, DSA), self-signed or signed by another key, valid from a day before now to a day
after; `self_signed()` gives the usual case, an ECDSA P-256 certificate for one host, as PEM
text. `cert_pem()` and `key_pem()` encode (a key as PKCS#8 unless told otherwise).
`proxy_client()` is a proxy's xDS client certificate as its agent gets one: its own key, signed
from its certificate signing request by `propylon.pki`.

The product's own certificates come from `propylon.pki` and the conformance harness's from
`propylon.conformance.tlsmaterial`; this module is for the certificates a test serves or refuses.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from propylon import pki


def certificate(key: CertificateIssuerPrivateKeyTypes, name: str = "app.example.com", *,
                hosts: Sequence[str] = (), signer: CertificateIssuerPrivateKeyTypes | None = None,
                issuer: x509.Name | None = None, ca: bool = False, client: bool = False,
                serial: int | None = None) -> x509.Certificate:
    """A certificate named `name` for `key`'s public key, with DNS SANs `hosts`, signed by
    `signer` under the name `issuer` (by default by `key`, under its own name)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    signer = signer or key
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    digest = None if isinstance(signer, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) \
        else hashes.SHA256()
    return builder.sign(signer, digest)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


_NO_ENCRYPTION = serialization.NoEncryption()


def key_pem(key: PrivateKeyTypes,
            encryption: serialization.KeySerializationEncryption = _NO_ENCRYPTION,
            fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def self_signed(host: str, *, serial: int | None = None, ca: bool = False) -> tuple[str, str]:
    """An ECDSA P-256 certificate for `host`, signed by its own key: certificate and key PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return cert_pem(certificate(key, host, hosts=(host,), serial=serial, ca=ca)), key_pem(key)


def proxy_client(ca: pki.KeyPair, node_id: str, policy: pki.Policy) -> pki.KeyPair:
    """The client certificate of a proxy of Gateway `node_id`, for a key it made."""
    key = pki.new_key()
    return pki.KeyPair(pki.sign_client(ca, node_id, pki.requested_key(pki.request(key)), policy),
                       key)
