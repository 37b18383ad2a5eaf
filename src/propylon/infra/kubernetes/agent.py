"""The xDS agent of a proxy pod: trades the pod's ServiceAccount token and a certificate
signing request for its Gateway's xDS client certificate, and keeps it fresh for Envoy. The
private key is made here and never leaves the pod.

It runs in the controller's image as a native sidecar (an init container with
`restartPolicy: Always`, see `resources`), so the kubelet starts Envoy only once the agent's
startup probe sees a certificate, and stops the agent only after Envoy. Its loop:

1. make a new ECDSA P-256 key (`pki.new_key`; a new one at every renewal), read the projected
   ServiceAccount token (audience `AUDIENCE`; the kubelet rotates the file) and `POST` it as a
   bearer token, with a certificate signing request of the key (`{"csr": <PEM>}`), to the
   controller's certificate endpoint (`ISSUER_PATH`, `controller.issuer`), verifying the
   endpoint's certificate with the CA bundle mounted from the Gateway's ConfigMap; the answer
   is the certificate and the bundle only;
2. write `tls.crt`, the key as `tls.key` (mode 0600) and `ca.crt` into the emptyDir shared
   with Envoy the way the kubelet updates a Secret volume: into a fresh hidden directory, then
   an atomic rename of the `..data` symlink, the three names being links through it, so
   Envoy's file-based SDS (`watched_directory`) never reads a key of one certificate beside
   another's certificate;
3. check every `check_s` (`CHECK_S`): fetch again once the certificate is due (`pki.needs_renewal`, the
   controller's renewal fraction of its lifetime) or the mounted CA bundle changed (a CA
   rotation was published); a failed fetch is retried with a backoff up to `check_s`, while
   Envoy keeps the certificate it has.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from propylon import pki

log = logging.getLogger(__name__)

AUDIENCE = "propylon-xds"  # of the projected token; the endpoint reviews it for this audience
ISSUER_PATH = "/v1/xds-certificate"
CHECK_S = 30.0
FIRST_RETRY_S = 1.0
FILES = ("tls.crt", "tls.key", "ca.crt")
DATA_LINK = "..data"


@dataclass(frozen=True)
class AgentConfig:
    """Where the agent asks, with what, and where it writes."""

    issuer_url: str  # https://<xDS host>:<port>/v1/xds-certificate
    token_file: Path
    ca_file: Path  # the controller's CA bundle (from the Gateway's ConfigMap)
    cert_dir: Path  # the emptyDir Envoy reads (`xds.bootstrap.sds_documents`)
    check_s: float = CHECK_S


class FetchError(Exception):
    """The endpoint did not issue a certificate; the message is its reason."""


def fetch(config: AgentConfig) -> dict[str, bytes]:
    """A new key and its certificate from the endpoint: file name -> PEM."""
    token = config.token_file.read_text().strip()
    key = pki.new_key()
    context = ssl.create_default_context(cafile=str(config.ca_file))
    request = urllib.request.Request(
        config.issuer_url, method="POST",
        data=json.dumps({"csr": pki.request(key).decode()}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            reason = json.loads(err.read()).get("error")
        except ValueError:
            reason = None
        raise FetchError(f"{err.code}: {reason or err.reason}") from err
    except (OSError, ValueError) as err:
        raise FetchError(str(err)) from err
    return {"tls.crt": body["certificate"].encode(), "tls.key": key,
            "ca.crt": body["caBundle"].encode()}


def write(cert_dir: Path, files: dict[str, bytes]) -> None:
    """Swap `files` into `cert_dir` atomically (module docstring, step 2)."""
    fresh = cert_dir / f"..{time.time_ns()}"
    fresh.mkdir(mode=0o700)
    for name, data in files.items():
        fd = os.open(fresh / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    link = cert_dir / f"{DATA_LINK}_tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(fresh.name)
    old = (cert_dir / DATA_LINK).resolve() if (cert_dir / DATA_LINK).is_symlink() else None
    link.rename(cert_dir / DATA_LINK)
    for name in files:
        if not (cert_dir / name).is_symlink():
            (cert_dir / name).symlink_to(f"{DATA_LINK}/{name}")
    if old is not None and old != fresh.resolve():
        for path in old.iterdir():
            path.unlink()
        old.rmdir()


def current(cert_dir: Path) -> dict[str, bytes]:
    """What `write` last wrote (empty before the first certificate)."""
    try:
        return {name: (cert_dir / name).read_bytes() for name in FILES}
    except OSError:
        return {}


def due(cert_dir: Path, ca_file: Path) -> str | None:
    """Why a certificate must be fetched now, or None."""
    held = current(cert_dir)
    if not held:
        return "no certificate yet"
    if pki.needs_renewal(held["tls.crt"], pki.Policy()):
        return "the certificate is due for renewal"
    try:
        if ca_file.read_bytes().strip() != held["ca.crt"].strip():
            return "the controller's CA bundle changed"
    except OSError:
        pass
    return None


def run(config: AgentConfig, stop: threading.Event | None = None) -> None:
    """Fetch and renew until `stop` is set (module docstring, step 3)."""
    stop = stop or threading.Event()
    retry = FIRST_RETRY_S
    while not stop.is_set():
        reason = due(config.cert_dir, config.ca_file)
        if reason is None:
            stop.wait(config.check_s)
            continue
        try:
            write(config.cert_dir, fetch(config))
        except FetchError as err:
            log.warning("xDS certificate not obtained (%s): %s; retrying in %.0fs", reason, err,
                        retry)
            stop.wait(retry)
            retry = min(retry * 2, config.check_s)
            continue
        retry = FIRST_RETRY_S
        log.info("xDS certificate written to %s (%s)", config.cert_dir, reason)
