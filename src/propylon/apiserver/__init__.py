"""The embedded Kubernetes-compatible API server (aiohttp + SQLite) of standalone mode.

`APIServer(state_dir).start()` serves the kinds of `propylon.api.kinds.KINDS` and CRDs over https with a
bearer token and writes a kubeconfig, so kubectl and lightkube work against it unchanged. The
modules: `storage` (SQLite), `registry` (the resource operations), `admission` (validation),
`patch` (JSON, merge and strategic merge patch), `managedfields` (server-side apply ownership),
`crds` (CustomResourceDefinitions), `events` and `watch` (watch fan-out and streams), `selectors`, `jsonpath` and `table` (kubectl
get columns), `discovery`, `openapi` (v3 and v2 documents; schemas from `kubeschemas`, Kubernetes'
own, and `bundledcrds`; `swaggerproto` encodes v2), `handlers` (HTTP), `tls` (certificates, token,
kubeconfig), `server` (the `APIServer` class) and `process` (`APIServerProcess`: the same server
in a child process, as `propylon up` runs it). `APIServer` is imported on first use, so that
`process` loads in the parent without aiohttp and SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from propylon.apiserver.server import APIServer

__all__ = ["APIServer"]


def __getattr__(name: str) -> Any:
    """`APIServer`, imported on first use: the parent side of `process` loads without it."""
    if name == "APIServer":
        from propylon.apiserver.server import APIServer
        return APIServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
