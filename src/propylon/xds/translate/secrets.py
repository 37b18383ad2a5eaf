"""IR secrets -> Envoy SDS `Secret`s holding a TLS certificate chain and key inline.

Listeners reference secrets by name only, so a certificate rotation is one SDS push: Envoy
swaps the certificate on the running listener without draining or restarting anything.
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import DataSource
from envoy.extensions.transport_sockets.tls.v3.common_pb2 import TlsCertificate
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret

from propylon.ir import model as ir


def secret(s: ir.Secret) -> Secret:
    """The SDS secret of one IR certificate."""
    return Secret(name=s.name, tls_certificate=TlsCertificate(
        certificate_chain=DataSource(inline_string=s.certificate_chain),
        private_key=DataSource(inline_string=s.private_key)))
