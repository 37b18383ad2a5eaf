"""What the echo backends report about a TLS connection, as echo-basic's `tls` assertions.

A server context given `remember_server_name` as its `sni_callback` records the SNI each client
sent (Python's `SSLObject` does not expose it after the handshake); `tls_assertions(transport)`
then reads a connection's `{version, peerCertificates (PEM, when the client sent any),
serverName, negotiatedProtocol (when ALPN chose one), cipherSuite}`, or None on a cleartext
connection. Cipher suites carry the IANA names Go's `tls.CipherSuiteName` reports.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref

# OpenSSL names of the TLS 1.2 suites a TLS client (Envoy, Go) offers by default -> the IANA names
# Go's `tls.CipherSuiteName` reports. TLS 1.3 suites already carry their IANA names.
_IANA_CIPHERS = {
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
}

_server_names: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def remember_server_name(ssl_object: object, server_name: str | None, _: ssl.SSLContext) -> None:
    """An `SSLContext.sni_callback` keeping the SNI of the connection for `tls_assertions`."""
    if server_name:
        _server_names[ssl_object] = server_name


def _peer_chain(ssl_object: ssl.SSLObject) -> list[bytes]:
    """DER certificates the client sent, leaf first (Go's `ConnectionState.PeerCertificates`).

    The chain is read from the private `_sslobj`, which has it from Python 3.10 on (the public
    `SSLObject.get_unverified_chain` arrived only in 3.13); on a server it holds a `None` leaf
    when the client sent no certificate.
    """
    chain = ssl_object._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]
    return [cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
            for cert in chain if cert is not None]


def tls_assertions(transport: asyncio.BaseTransport | None) -> dict[str, object] | None:
    """The `tls` assertions of the connection on `transport`; None if it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object") if transport else None
    if not isinstance(ssl_object, ssl.SSLObject):
        return None
    out: dict[str, object] = {"version": ssl_object.version() or ""}
    peers = [ssl.DER_cert_to_PEM_cert(der) for der in _peer_chain(ssl_object)]
    if peers:
        out["peerCertificates"] = peers
    out["serverName"] = _server_names.get(ssl_object, "")
    if protocol := ssl_object.selected_alpn_protocol():
        out["negotiatedProtocol"] = protocol
    cipher = ssl_object.cipher()
    out["cipherSuite"] = _IANA_CIPHERS.get(cipher[0], cipher[0]) if cipher else ""
    return out
