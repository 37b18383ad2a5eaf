"""Credentials of the embedded API server: a CA, a server certificate, a bearer token and the
kubeconfig that ties them together.

At first start `ensure_credentials()` creates, in the state directory, a CA (`ca.crt`,
`ca.key`), a server certificate signed by it for `127.0.0.1`, `::1` and `localhost`
(`server.crt`, `server.key`), both built by `propylon.pki`, and a random token (`token`); later
starts reuse them, so clients keep trusting the server across restarts. Private files are mode
0600 and replaced in one step.
`write_kubeconfig()` writes a kubeconfig with the CA data, the token, namespace `default` and
current context `propylon`.
"""

from __future__ import annotations

import base64
import datetime
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml

from propylon import pki
from propylon.statedir import write_private

CONTEXT = "propylon"
_VALIDITY = datetime.timedelta(days=3650)
_POLICY = pki.Policy(ca_validity=_VALIDITY, leaf_validity=_VALIDITY)
_SERVER_HOSTS = ("127.0.0.1", "::1", "localhost")


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


def ensure_credentials(state_dir: Path) -> Credentials:
    """Load the CA, server certificate and token from `state_dir`, creating what is missing."""
    ca_cert_path, ca_key_path = state_dir / "ca.crt", state_dir / "ca.key"
    if ca_cert_path.exists() and ca_key_path.exists():
        ca = pki.KeyPair(ca_cert_path.read_bytes(), ca_key_path.read_bytes())
        try:
            pki.private_key(ca.key)
        except ValueError as err:
            raise ValueError(f"{ca_key_path} is not an ECDSA key: delete ca.crt and ca.key "
                             "to generate a new CA") from err
    else:
        ca = pki.new_ca(_POLICY, "propylon-ca")
        write_private(ca_key_path, ca.key)
        ca_cert_path.write_bytes(ca.cert)
        (state_dir / "server.crt").unlink(missing_ok=True)
    if not (state_dir / "server.crt").exists() or not (state_dir / "server.key").exists():
        server = pki.issue_server(ca, list(_SERVER_HOSTS), _POLICY)
        write_private(state_dir / "server.key", server.key)
        (state_dir / "server.crt").write_bytes(server.cert)
    token_path = state_dir / "token"
    if not token_path.exists():
        write_private(token_path, secrets.token_urlsafe(32).encode())
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
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
