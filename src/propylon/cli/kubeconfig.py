"""Reading a kubeconfig the way kubectl does, for the CLI's own HTTP client.

`find_kubeconfig()` picks the file: `--kubeconfig`, else the first file of `$KUBECONFIG` (a list
separated by `os.pathsep`), else `~/.kube/config`. `load()` reads the context (`--context` or
`current-context`) and returns a `ClusterConfig`: the server URL, the namespace of the context,
the CA (inline `certificate-authority-data` or a `certificate-authority` file, relative paths
resolved against the kubeconfig's directory), `insecure-skip-tls-verify`, and the user's bearer
token or client certificate and key. Every problem raises `KubeconfigError` naming the file, the
entry and what to do.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(Exception):
    """The kubeconfig is missing or unusable; the message names the file and the fix."""


@dataclass(frozen=True)
class ClusterConfig:
    """Everything needed to talk to one API server as one user."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = field(default=None, repr=False)  # PEM
    insecure: bool = False
    token: str | None = field(default=None, repr=False)
    client_cert: bytes | None = field(default=None, repr=False)  # PEM
    client_key: bytes | None = field(default=None, repr=False)  # PEM


def find_kubeconfig(explicit: Path | None = None) -> Path:
    """The kubeconfig file kubectl would read."""
    if explicit is not None:
        return explicit
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if paths:
        return Path(paths[0])
    return Path.home() / ".kube" / "config"


def load(path: Path, context: str | None = None) -> ClusterConfig:
    """Parse `path` and resolve `context` (default: its current-context)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise KubeconfigError(f"kubeconfig {path} does not exist: start the API server with "
                              "'propylon up', or pass --kubeconfig PATH") from None
    except (OSError, yaml.YAMLError) as err:
        raise KubeconfigError(f"kubeconfig {path} cannot be read: {err}") from None
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (expected a mapping with "
                              "clusters, users and contexts)")
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError(f"kubeconfig {path} has no current-context: set one with "
                              "'kubectl config use-context NAME' or pass --context NAME")
    ctx = _named(doc, "contexts", "context", name, path)
    cluster = _named(doc, "clusters", "cluster", ctx.get("cluster"), path)
    user = _named(doc, "users", "user", ctx.get("user"), path) if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server: "
                              "add its URL, e.g. server: https://127.0.0.1:6443")
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read(base, user["tokenFile"], path, "tokenFile").decode().strip()
    return ClusterConfig(
        server=str(server).rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        ca_data=_pem(cluster, "certificate-authority", base, path),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        token=token,
        client_cert=_pem(user, "client-certificate", base, path),
        client_key=_pem(user, "client-key", base, path),
    )


def _named(doc: dict[str, Any], section: str, key: str, name: Any, path: Path) -> dict[str, Any]:
    for entry in doc.get(section) or ():
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key)
            return value if isinstance(value, dict) else {}
    known = ", ".join(str(e.get("name")) for e in doc.get(section) or () if isinstance(e, dict))
    raise KubeconfigError(f"kubeconfig {path}: {section} has no entry named {name!r} "
                          f"(known: {known or 'none'}); fix the context or pass --context NAME")


def _pem(entry: dict[str, Any], key: str, base: Path, path: Path) -> bytes | None:
    """`key-data` (base64) or the file named by `key`."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise KubeconfigError(f"kubeconfig {path}: {key}-data is not valid base64: "
                                  "encode the PEM with 'base64 -w0'") from None
    if entry.get(key):
        return _read(base, entry[key], path, key)
    return None


def _read(base: Path, name: str, path: Path, key: str) -> bytes:
    file = Path(name).expanduser()
    file = file if file.is_absolute() else base / file
    try:
        return file.read_bytes()
    except OSError as err:
        raise KubeconfigError(f"kubeconfig {path}: {key} {file} cannot be read: "
                              f"{err.strerror}") from None
