"""Mutual TLS for the xDS server: rotating server credentials and the proxies' identities.

`MutualTls` holds the server's certificate, key and the CA bundle client certificates must chain
to. `credentials()` gives gRPC dynamic server credentials that require a client certificate;
gRPC asks for the current material at every new handshake, so `update()` (after a rotation)
takes effect for the next connection without restarting the server, and established streams
keep theirs.

A proxy's identity is the SAN URI `spiffe://propylon/gateway/<namespace>/<name>` of its client
certificate (`propylon.pki.gateway_uri()`); `peer_node()` reads it back from a stream's auth
context, and the ADS handler refuses a stream whose node id is not that Gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from cryptography import x509

from propylon.pki import URI_PREFIX


@dataclass(frozen=True)
class ServerMaterial:
    """PEM bytes: the server's certificate chain and key, and the client CA bundle."""

    cert: bytes
    key: bytes
    client_ca: bytes


class MutualTls:
    """The xDS server's current TLS material; see the module docstring."""

    def __init__(self, material: ServerMaterial) -> None:
        self._material = material
        self._served: ServerMaterial | None = None

    @property
    def material(self) -> ServerMaterial:
        return self._material

    def update(self, material: ServerMaterial) -> None:
        """Serve `material` from the next handshake on."""
        self._material = material

    def credentials(self) -> grpc.ServerCredentials:
        self._served = self._material
        return grpc.dynamic_ssl_server_credentials(
            self._configuration(self._material), self._fetch,
            require_client_authentication=True)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        material = self._material
        if material == self._served:
            return None
        self._served = material
        return self._configuration(material)

    @staticmethod
    def _configuration(material: ServerMaterial) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(material.key, material.cert)], root_certificates=material.client_ca)


def peer_node(auth_context: Mapping[str, Sequence[bytes]]) -> str | None:
    """The Gateway (`namespace/name`) the peer's certificate names, if it names one."""
    pems = auth_context.get("x509_pem_cert") or ()
    if not pems:
        return None
    cert = x509.load_pem_x509_certificate(pems[0])
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    nodes = [uri.removeprefix(URI_PREFIX) for uri in
             san.get_values_for_type(x509.UniformResourceIdentifier) if uri.startswith(URI_PREFIX)]
    return nodes[0] if len(nodes) == 1 else None
