"""Certificates of Propylon's own certificate authorities, as PEM bytes (no I/O).

Two CAs use it: the embedded API server's (its serving certificate, `apiserver.tls`) and the
controller's for xDS over mutual TLS (`controller.certs`). Keys are ECDSA P-256; a certificate
is valid from five minutes before it is issued (clocks differ) for the `Policy` validity.

- `new_ca()`: a CA (`CERT_AUTHORITY_CN` unless named), valid `Policy.ca_validity`;
- `issue_server()`: a server certificate for the DNS names (and IP addresses) clients dial,
  signed by the CA;
- `sign_client()`: one Gateway's proxy certificate for a public key, whose only identity is the
  SAN URI `spiffe://propylon/gateway/<namespace>/<name>` (`gateway_uri()`);
- `new_key()` and `request()`: a proxy's own key and its certificate signing request (PEM
  PKCS#10), which `requested_key()` checks (`CsrError`: garbage, a signature that does not
  verify, a key type or size not accepted) and reduces to its public key: the subject and
  extensions a request asks for are ignored, the signer decides the identity;
- `needs_renewal()`: a certificate is replaced once less than `Policy.renew_fraction` of its
  validity remains, or when it was not signed by the current CA (the CA rotated).

A rotated CA is not trusted alone at once: `trust_bundle()` keeps the previous CA certificate
next to the new one until it expires, so certificates issued by either verify during the
changeover.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_AUTHORITY_CN = "propylon-xds-ca"
URI_PREFIX = "spiffe://propylon/gateway/"
CURVES = ("secp256r1", "secp384r1")  # the ECDSA keys a request may carry
MIN_RSA_BITS = 2048


def gateway_uri(node_id: str) -> str:
    """The identity URI of the proxies of Gateway `node_id` (`namespace/name`)."""
    return URI_PREFIX + node_id


@dataclass(frozen=True)
class Policy:
    """Validity periods and when to renew."""

    ca_validity: datetime.timedelta = datetime.timedelta(days=365)
    leaf_validity: datetime.timedelta = datetime.timedelta(days=30)
    renew_fraction: float = 1 / 3  # renew once less than this share of the validity remains


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, PEM encoded."""

    cert: bytes
    key: bytes


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(subject: x509.Name, issuer: x509.Name,
             key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
             validity: datetime.timedelta) -> x509.CertificateBuilder:
    now = _now()
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + validity))


def private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """The ECDSA key of `pem`; ValueError when it is not one."""
    key = serialization.load_pem_private_key(pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an ECDSA private key")
    return key


def new_ca(policy: Policy, common_name: str = CERT_AUTHORITY_CN) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (_builder(name, name, key.public_key(), policy.ca_validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(_cert_pem(cert), _key_pem(key))


class CsrError(ValueError):
    """A certificate signing request that is not signed; the message says why."""


def new_key() -> bytes:
    """A fresh ECDSA P-256 private key (PEM PKCS#8)."""
    return _key_pem(ec.generate_private_key(ec.SECP256R1()))


def request(key_pem: bytes) -> bytes:
    """A certificate signing request (PEM) for the key of `key_pem`, signed with it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "propylon-proxy")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
        private_key(key_pem), hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def requested_key(csr_pem: bytes) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The public key of a request whose signature verifies with it; `CsrError` otherwise."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
        key = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, TypeError) as err:
        raise CsrError(f"not a PEM certificate signing request ({err})") from err
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in CURVES:
        raise CsrError(f"its ECDSA key is on curve {key.curve.name}, not accepted: "
                       f"use {' or '.join(CURVES)}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CsrError(f"its RSA key has {key.key_size} bits, fewer than {MIN_RSA_BITS}: "
                       "use an ECDSA P-256 key")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CsrError(f"its {type(key).__name__} is not accepted: use an ECDSA P-256 key")
    if not valid:
        raise CsrError("its signature does not verify with its public key: sign it with the "
                       "key it carries")
    return key


def _sign(ca: KeyPair, common_name: str, sans: list[x509.GeneralName],
          usage: x509.ObjectIdentifier, policy: Policy,
          key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    """A leaf certificate of `key` (PEM), signed by `ca`."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = private_key(ca.key)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (_builder(subject, ca_cert.subject, key, policy.leaf_validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return _cert_pem(cert)


def _name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_server(ca: KeyPair, hosts: list[str], policy: Policy) -> KeyPair:
    """A server certificate for `hosts` (DNS names or IP addresses), named after the first."""
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(_sign(ca, hosts[0], [_name(h) for h in dict.fromkeys(hosts)],
                         ExtendedKeyUsageOID.SERVER_AUTH, policy, key.public_key()),
                   _key_pem(key))


def sign_client(ca: KeyPair, node_id: str, key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
                policy: Policy) -> bytes:
    """The certificate of `key` for the proxies of Gateway `node_id` (`namespace/name`)."""
    return _sign(ca, node_id, [x509.UniformResourceIdentifier(gateway_uri(node_id))],
                 ExtendedKeyUsageOID.CLIENT_AUTH, policy, key)


def server_hosts(cert_pem: bytes) -> list[str]:
    """The DNS names and IP addresses a server certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*san.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def signed_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def needs_renewal(cert_pem: bytes, policy: Policy, ca_pem: bytes | None = None) -> bool:
    """True when `cert_pem` is unreadable, near its end, or not signed by `ca_pem`."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return True
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if cert.not_valid_after_utc - _now() < lifetime * policy.renew_fraction:
        return True
    return ca_pem is not None and not signed_by(cert_pem, ca_pem)


def trust_bundle(current_ca: bytes, previous_bundle: bytes = b"") -> bytes:
    """`current_ca` followed by the certificates of `previous_bundle` that are still valid."""
    kept = [current_ca.strip()]
    now = _now()
    for cert in x509.load_pem_x509_certificates(previous_bundle) if previous_bundle else []:
        pem = _cert_pem(cert).strip()
        if cert.not_valid_after_utc > now and pem not in kept:
            kept.append(pem)
    return b"\n".join(kept) + b"\n"
