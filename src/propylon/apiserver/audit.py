"""An optional audit hook: every resource request the API server serves, as RBAC sees it.

`Request` is what Kubernetes authorization checks (verb, API group, resource, namespace,
subresource, name) and the client's User-Agent (every client shares the one token); the server calls the `audit` callable given to `APIServer` with one per
resource request, before serving it. `JsonLines(path)` is such a callable that appends them to a
file (`python -m propylon.apiserver --audit-log FILE`), so tests can check a client's requests
against the RBAC rules it is meant to need.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Request:
    verb: str  # get list watch create update patch delete deletecollection
    group: str
    resource: str
    namespace: str  # "" for cluster-scoped kinds and requests across every namespace
    subresource: str
    name: str
    user_agent: str


def verb(method: str, item: bool, watch: bool) -> str:
    """The RBAC verb of an HTTP method on an item or a collection."""
    if method == "GET":
        return "get" if item else ("watch" if watch else "list")
    if method == "DELETE":
        return "delete" if item else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


class JsonLines:
    """Appends each request as one JSON line to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __call__(self, request: Request) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(asdict(request), sort_keys=True) + "\n")
