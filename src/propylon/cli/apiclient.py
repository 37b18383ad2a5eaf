"""A small synchronous Kubernetes API client for the CLI, and kubectl's error messages.

The CLI makes a handful of requests per run, so this is `urllib` with an `ssl` context built from
a `ClusterConfig` (CA, client certificate, or no verification), plus the bearer token. Responses
are decoded JSON. A status >= 400 raises `APIError` (the class the embedded API server raises,
`propylon.apiserver.errors`) carrying the server's `Status` (reason, message, details.causes);
`error_message()` turns it into the text kubectl prints, e.g.
`Error from server (NotFound): gateways.gateway.networking.k8s.io "x" not found`, or for a 422
`The Gateway "x" is invalid:` followed by one `* field: message` line per cause.

The REST paths come from `propylon.client` (`collection_path()`, `object_path()`), which the
control plane's `KubeClient` uses for its watches.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from propylon.apiserver.errors import APIError
from propylon.cli.kubeconfig import ClusterConfig


class ConnectionFailed(Exception):
    """The server could not be reached; the message says which server and what to check."""


def error_message(err: APIError) -> str:
    """What kubectl prints for this error (without a trailing newline)."""
    if err.reason == "Invalid":
        kind, name = err.details.get("kind", ""), err.details.get("name", "")
        head = f'The {kind} "{name}" is invalid' if kind or name else "The request is invalid"
        causes = [f"{c.get('field', '')}: {c.get('message', '')}"
                  for c in err.details.get("causes") or ()]
        if not causes:
            return head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return "\n".join([f"{head}: "] + [f"* {c}" for c in causes])
    if err.reason == "Unauthorized":
        return f"error: You must be logged in to the server ({err.message})"
    if err.reason:
        return f"Error from server ({err.reason}): {err.message}"
    return f"Error from server: {err.message}"


class APIClient:
    """Requests to one API server as one user."""

    def __init__(self, config: ClusterConfig, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        self._ssl = _ssl_context(config) if config.server.startswith("https:") else None

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None,
                body: bytes | None = None, content_type: str | None = None,
                accept: str = "application/json") -> dict[str, Any]:
        """Send one request; the decoded JSON answer, or APIError / ConnectionFailed."""
        url = self.config.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": accept, "User-Agent": "propylon"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                return _decode(resp.read())
        except urllib.error.HTTPError as err:
            raise _api_error(err.code, err.read()) from None
        except urllib.error.URLError as err:
            host = urllib.parse.urlsplit(self.config.server).netloc
            if isinstance(err.reason, ConnectionRefusedError):
                raise ConnectionFailed(f"The connection to the server {host} was refused - "
                                       "did you specify the right host or port?") from None
            raise ConnectionFailed(f"Unable to connect to the server {host}: "
                                   f"{err.reason}") from None


def _decode(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    value = json.loads(raw)
    return value if isinstance(value, dict) else {"value": value}


def _api_error(code: int, raw: bytes) -> APIError:
    try:
        status = _decode(raw)
    except ValueError:
        status = {}
    if status.get("kind") != "Status":
        text = raw.decode("utf-8", "replace").strip() or f"HTTP {code}"
        return APIError(code, "", f"the server answered {code}: {text}")
    return APIError(code, str(status.get("reason", "")), str(status.get("message", "")),
                    status.get("details") or {})


def _ssl_context(config: ClusterConfig) -> ssl.SSLContext:
    if config.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif config.ca_data:
        ctx = ssl.create_default_context(cadata=config.ca_data.decode())
    else:
        ctx = ssl.create_default_context()
    if config.client_cert and config.client_key:
        # ssl loads a certificate chain only from files: write both to one private temp file.
        fd, name = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(config.client_cert.rstrip(b"\n") + b"\n" + config.client_key)
            ctx.load_cert_chain(name)
        finally:
            os.unlink(name)
    return ctx
