"""Certificates of Propylon's own certificate authorities, as PEM bytes (no I/O).

Two CAs use it: the embedded API server's (its serving certificate, `apiserver.tls`) and the
controller's for xDS over mutual TLS (`controller.certs`). Keys are ECDSA P-256; a certificate
is valid from five minutes before it is issued (clocks differ) for the `Policy` validity.

- `new_ca()`: a CA (`CERT_AUTHORITY_CN` unless named), valid `Policy.ca_validity`;
- `issue_server()`: a server certificate for the DNS names (and IP addresses) clients dial,
  signed by the CA;
- `issue_client()`: one Gateway's proxy certificate, whose only identity is the SAN URI
  `spiffe://propylon/gateway/<namespace>/<name>` (`gateway_uri()`);
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
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_AUTHORITY_CN = "propylon-xds-ca"
URI_PREFIX = "spiffe://propylon/gateway/"


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


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
             validity: datetime.timedelta) -> x509.CertificateBuilder:
    now = _now()
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
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
    cert = (_builder(name, name, key, policy.ca_validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(_cert_pem(cert), _key_pem(key))


def _issue(ca: KeyPair, common_name: str, sans: list[x509.GeneralName],
           usage: x509.ObjectIdentifier, policy: Policy) -> KeyPair:
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = private_key(ca.key)
    key = ec.generate_private_key(ec.SECP256R1())
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
    return KeyPair(_cert_pem(cert), _key_pem(key))


def _name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue_server(ca: KeyPair, hosts: list[str], policy: Policy) -> KeyPair:
    """A server certificate for `hosts` (DNS names or IP addresses), named after the first."""
    return _issue(ca, hosts[0], [_name(h) for h in dict.fromkeys(hosts)],
                  ExtendedKeyUsageOID.SERVER_AUTH, policy)


def issue_client(ca: KeyPair, node_id: str, policy: Policy) -> KeyPair:
    """The certificate of the proxies of Gateway `node_id` (`namespace/name`)."""
    return _issue(ca, node_id, [x509.UniformResourceIdentifier(gateway_uri(node_id))],
                  ExtendedKeyUsageOID.CLIENT_AUTH, policy)


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
