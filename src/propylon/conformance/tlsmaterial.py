"""The TLS Secrets and ConfigMaps the harness creates at setup (HARNESS.md section 4.6).

Same names, namespaces, SANs and CA relationships as the Go suite; RSA-2048 keys in PKCS#1
("RSA PRIVATE KEY") PEM, certificates valid one year. Secrets are `kubernetes.io/tls` with
`tls.crt` and `tls.key`; CA certificates are in ConfigMap key `ca.crt`. Host names become SANs
the way Go's helper does it: an IP address becomes an IP SAN, `*` a URI SAN, a `scheme://`
URL a URI SAN, anything else a DNS SAN. `tls_objects()` returns the objects to apply.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

INFRA = "gateway-conformance-infra"
APP = "gateway-conformance-app-backend"
WEB = "gateway-conformance-web-backend"
VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class KeyPair:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host == "*" or "://" in host:
        return x509.UniformResourceIdentifier(host)
    return x509.DNSName(host)


def issue(common_name: str, hosts: tuple[str, ...] = (), issuer: KeyPair | None = None,
          ca: bool = False, client: bool = False) -> KeyPair:
    """A certificate for `hosts`, signed by `issuer` (self-signed when None)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Propylon conformance"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]),
                                        critical=False)
    signer = issuer.key if issuer else key
    return KeyPair(builder.sign(signer, hashes.SHA256()), key)


def tls_secret(namespace: str, name: str, pair: KeyPair) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"namespace": namespace, "name": name},
            "data": {"tls.crt": base64.b64encode(pair.cert_pem).decode(),
                     "tls.key": base64.b64encode(pair.key_pem).decode()}}


def ca_configmap(namespace: str, name: str, ca: KeyPair) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"namespace": namespace, "name": name},
            "data": {"ca.crt": ca.cert_pem.decode()}}


def tls_objects() -> list[dict[str, object]]:
    """Every Secret and ConfigMap of section 4.6, freshly generated."""
    validity_hosts = ("*", "*.org", "*.wildcard.org")
    checks_ca = issue("tls-checks-ca", ca=True)
    validity_ca = issue("tls-validity-checks-ca", ca=True)
    per_port_ca = issue("tls-validity-checks-per-port-ca", ca=True)
    mismatch_ca = issue("mismatch-ca", ca=True)
    passthrough = issue("abc.example.com", ("abc.example.com",), checks_ca)
    return [
        tls_secret(WEB, "certificate", issue("certificate", ("*",))),
        tls_secret(INFRA, "tls-validity-checks-certificate",
                   issue("tls-validity-checks-certificate", validity_hosts)),
        ca_configmap(WEB, "web-backend-cm", checks_ca),
        ca_configmap(INFRA, "tls-validity-checks-ca-certificate", validity_ca),
        tls_secret(INFRA, "tls-validity-checks-client-certificate",
                   issue("tls-validity-checks-client", (), validity_ca, client=True)),
        ca_configmap(INFRA, "tls-validity-checks-per-port-ca-certificate", per_port_ca),
        tls_secret(INFRA, "tls-validity-checks-per-port-client-certificate",
                   issue("tls-validity-checks-per-port-client", (), per_port_ca, client=True)),
        ca_configmap(INFRA, "tls-checks-ca-certificate", checks_ca),
        tls_secret(INFRA, "tls-checks-certificate",
                   issue("abc.example.com", ("abc.example.com", "other.example.com",
                                             "spiffe://abc.example.com/test-identity"),
                         checks_ca)),
        tls_secret(INFRA, "tls-checks-client-certificate",
                   issue("tls-checks-client", (), checks_ca, client=True)),
        tls_secret(INFRA, "tls-passthrough-checks-certificate", passthrough),
        tls_secret(APP, "tls-passthrough-checks-certificate", passthrough),
        tls_secret(INFRA, "tls-terminate-checks-certificate",
                   issue("tls.example.com", ("tls.example.com",), checks_ca)),
        ca_configmap(INFRA, "mismatch-ca-certificate", mismatch_ca),
    ]
