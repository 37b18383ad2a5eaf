"""Credentials of the embedded API server: a CA, a server certificate, a bearer token and the
kubeconfig that ties them together.

At first start `ensure_credentials()` creates, in the state directory, an ECDSA P-256 CA
(`ca.crt`, `ca.key`), a server certificate signed by it for `127.0.0.1`, `::1` and `localhost`
(`server.crt`, `server.key`) and a random token (`token`); later starts reuse them, so clients
keep trusting the server across restarts. Private files are mode 0600 and replaced in one step.
`write_kubeconfig()` writes a kubeconfig with the CA data, the token, namespace `default` and
current context `propylon`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONTEXT = "propylon"
_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class Credentials:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    token: str

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _write_private(path: Path, data: bytes) -> None:
    """Write `path` mode 0600 in one step: a reader (kubectl while the API server process
    restarts) sees the old content or the new, never an empty file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # before any byte is written, if tmp was left wider
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
             ) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY))


def _make_ca(state_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "propylon-ca")])
    cert = (_builder("propylon-ca", name, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(state_dir / "ca.key", _key_pem(key))
    (state_dir / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _make_server_cert(state_dir: Path, ca_cert: x509.Certificate,
                      ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1")),
                                       x509.DNSName("localhost")])
    cert = (_builder("propylon-apiserver", ca_cert.subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(san, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(state_dir / "server.key", _key_pem(key))
    (state_dir / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_credentials(state_dir: Path) -> Credentials:
    """Load the CA, server certificate and token from `state_dir`, creating what is missing."""
    ca_cert_path, ca_key_path = state_dir / "ca.crt", state_dir / "ca.key"
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ca_key_path} is not an ECDSA key: delete ca.crt and ca.key "
                             "to generate a new CA")
        ca_key = loaded
    else:
        ca_cert, ca_key = _make_ca(state_dir)
        (state_dir / "server.crt").unlink(missing_ok=True)
    if not (state_dir / "server.crt").exists() or not (state_dir / "server.key").exists():
        _make_server_cert(state_dir, ca_cert, ca_key)
    token_path = state_dir / "token"
    if not token_path.exists():
        _write_private(token_path, secrets.token_urlsafe(32).encode())
    return Credentials(ca_cert_path, state_dir / "server.crt", state_dir / "server.key",
                       token_path.read_text().strip())


def write_kubeconfig(path: Path, url: str, credentials: Credentials) -> None:
    """A kubeconfig (mode 0600) for `url` with the CA data and the token."""
    ca_data = base64.b64encode(credentials.ca_cert.read_bytes()).decode()
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": url,
                                                   "certificate-authority-data": ca_data}}],
        "users": [{"name": CONTEXT, "user": {"token": credentials.token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT,
                                                   "namespace": "default"}}],
        "current-context": CONTEXT}
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
