"""The embedded API server's credentials: a CA and a server certificate kept across starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propylon import pki
from propylon.apiserver.tls import ensure_credentials


def test_server_certificate_is_signed_by_the_ca_for_loopback_and_kept(tmp_path: Path) -> None:
    first = ensure_credentials(tmp_path)
    server_cert = first.server_cert.read_bytes()
    assert pki.signed_by(server_cert, first.ca_cert.read_bytes())
    assert pki.server_hosts(server_cert) == ["localhost", "127.0.0.1", "::1"]
    again = ensure_credentials(tmp_path)
    assert again.server_cert.read_bytes() == server_cert
    assert again.token == first.token


def test_a_ca_key_that_is_not_ecdsa_is_refused_naming_the_file(tmp_path: Path) -> None:
    ensure_credentials(tmp_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "ca.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(ValueError, match="ca.key is not an ECDSA key"):
        ensure_credentials(tmp_path)
