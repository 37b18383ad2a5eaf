"""The one port to a Kubernetes API server: `KubeClient`, errors of our own, one class per kind.

Everything that talks to an API server (controller, informers, infrastructure managers, manifest
sync, conformance runner, standalone mode) does it through `KubeClient`, which wraps lightkube;
no other module imports lightkube or its HTTP library (an import-linter contract checks it). The
client's operations take resource class instances and return plain JSON dicts. A refusal of the
server becomes `KubeError` (its status code, reason and message), a failed or broken connection
`KubeUnreachable`.

`KubeClient.watch` streams one kind's events itself, with `allowWatchBookmarks` (lightkube's
`watch()` does not expose it), through an HTTP client lightkube builds from the same
configuration (its `config.client_adapter`).

`load_client()` finds the configuration the way controller-runtime does: an explicit kubeconfig
path, else the first file of `$KUBECONFIG` (kubectl's path list, separated by `os.pathsep`), else
the in-cluster service account, else `~/.kube/config`. The embedded API server writes a
kubeconfig, so standalone mode and a real cluster take the same path.

`resource_class()` gives the lightkube class for a `KindInfo` of `propylon.api.kinds.KINDS`. Every
kind, builtin ones included, is a lightkube *generic* resource: objects travel as the plain JSON
dicts the server sent, which is what the controller stores and the translator reads. Classes are
created once per kind and cached (lightkube keeps them in a process-wide registry).
`collection_path()` and `object_path()` give a kind's REST paths (the watch's, and the CLI's).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import urllib.parse
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import lightkube
from lightkube.config import client_adapter
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import DEFAULT_KUBECONFIG, SERVICE_ACCOUNT
from lightkube.core.exceptions import ApiError, ConfigError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.types import PatchType as PatchType

from propylon.api.kinds import KindInfo


class ClientConfigError(Exception):
    """No usable Kubernetes configuration was found; the message says where we looked."""


def load_kubeconfig(kubeconfig: Path | None = None) -> lightkube.KubeConfig:
    """The configuration `load_client()` uses; see the module docstring for the search order."""
    if kubeconfig is not None:
        return _from_file(Path(kubeconfig), "the kubeconfig given")
    env = os.environ.get("KUBECONFIG", "")
    paths = [p for p in env.split(os.pathsep) if p]
    if paths:
        return _from_file(Path(paths[0]), "the first file of $KUBECONFIG")
    if os.environ.get("KUBERNETES_SERVICE_HOST") and Path(SERVICE_ACCOUNT, "token").is_file():
        try:
            return lightkube.KubeConfig.from_service_account()
        except ConfigError as err:
            raise ClientConfigError(f"in-cluster configuration is unusable: {err}") from err
    return _from_file(Path(DEFAULT_KUBECONFIG).expanduser(), "the default kubeconfig")


def _from_file(path: Path, what: str) -> lightkube.KubeConfig:
    if not path.is_file():
        raise ClientConfigError(
            f"{what} {path} does not exist: pass --kubeconfig, set KUBECONFIG, or run in a cluster")
    try:
        return lightkube.KubeConfig.from_file(path)
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        raise ClientConfigError(f"{what} {path} is not a valid kubeconfig: {err}") from err


def load_client(kubeconfig: Path | None = None) -> KubeClient:
    """A client for the cluster the configuration names (see the module docstring)."""
    return KubeClient(load_kubeconfig(kubeconfig))


@functools.cache
def resource_class(info: KindInfo) -> type[Any]:
    """The lightkube generic resource class of one kind (namespaced or cluster-scoped)."""
    create = create_namespaced_resource if info.namespaced else create_global_resource
    return create(info.group, info.version, info.kind, info.plural)


def collection_path(info: KindInfo, namespace: str | None) -> str:
    """`/apis/GROUP/VERSION[/namespaces/NS]/PLURAL` (`/api/v1/...` for the core group);
    `namespace=None` lists a namespaced kind across all namespaces."""
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace is not None:
        prefix += f"/namespaces/{urllib.parse.quote(namespace, safe='')}"
    return f"{prefix}/{info.plural}"


def object_path(info: KindInfo, namespace: str | None, name: str) -> str:
    return f"{collection_path(info, namespace)}/{urllib.parse.quote(name, safe='')}"


@dataclass(frozen=True)
class Listing:
    """A list's objects and the resourceVersion it was read at (to watch from)."""

    items: list[dict[str, Any]]
    resource_version: str


class KubeError(Exception):
    """The API server refused a request, or a watch ended with an ERROR event (`in_stream`).

    `code` is the HTTP status (404, 409, 410 ...), `reason` and `message` those of the server's
    Status object."""

    def __init__(self, code: int, reason: str, message: str, *, in_stream: bool = False) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.in_stream = code, reason, message, in_stream


class KubeUnreachable(Exception):
    """No answer from the API server: the connection failed or broke."""


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except ApiError as err:
        code = err.status.code or (err.response.status_code if err.response is not None else 0)
        raise KubeError(code, err.status.reason or "", err.status.message or "",
                        in_stream=err.response is None) from err
    except httpx2.HTTPStatusError as err:
        raise KubeError(err.response.status_code, err.response.reason_phrase, str(err)) from err
    except httpx2.HTTPError as err:
        raise KubeUnreachable(str(err)) from err


class KubeClient:
    """The operations the control plane asks of an API server, on plain JSON objects.

    Objects go out as resource class instances (`resource_class(info)(body)`) and come back as
    dicts; every refusal raises `KubeError`, every transport failure `KubeUnreachable`."""

    def __init__(self, config: lightkube.KubeConfig) -> None:
        self._lightkube = lightkube.AsyncClient(config=config)
        params = ConnectionParams(timeout=httpx2.Timeout(10.0, read=None))
        self._stream = client_adapter.AsyncClient(self._lightkube.config, params)

    @property
    def namespace(self) -> str:
        """The namespace of the configuration's context: where unnamespaced objects go."""
        return str(self._lightkube.namespace)

    async def get(self, res: type[Any], name: str, *,
                  namespace: str | None = None) -> dict[str, Any]:
        with _mapped_errors():
            return _plain(await self._lightkube.get(res, name, namespace=namespace))

    async def list(self, res: type[Any], *, namespace: str | None = None,
                   labels: dict[str, str] | None = None,
                   fields: dict[str, str] | None = None) -> Listing:
        """Every object (`namespace="*"`: of all namespaces) and the list's resourceVersion."""
        with _mapped_errors():
            listing = self._lightkube.list(res, namespace=namespace, labels=dict(labels or {}),
                                           fields=dict(fields or {}))
            items = [_plain(obj) async for obj in listing]
            return Listing(items, listing.resourceVersion)

    async def create(self, obj: Any, *, namespace: str | None = None) -> dict[str, Any]:
        with _mapped_errors():
            created = await self._lightkube.create(obj, namespace=namespace)  # type: ignore[call-overload]
            return _plain(created)

    async def replace(self, obj: Any, name: str | None = None, *,
                      namespace: str | None = None) -> dict[str, Any]:
        """Replace `obj` (its own name and namespace unless given)."""
        with _mapped_errors():
            return _plain(await self._lightkube.replace(
                obj, name, namespace=namespace))  # type: ignore[arg-type]

    async def apply(self, obj: Any, *, field_manager: str, force: bool = False) -> dict[str, Any]:
        with _mapped_errors():
            return _plain(await self._lightkube.apply(obj, field_manager=field_manager, force=force))

    async def patch(self, res: type[Any], name: str, patch: Any, *, patch_type: PatchType,
                    namespace: str | None = None,
                    field_manager: str | None = None) -> dict[str, Any]:
        with _mapped_errors():
            return _plain(await self._lightkube.patch(res, name, patch, patch_type=patch_type,
                                                      namespace=namespace,
                                                      field_manager=field_manager))

    async def delete(self, res: type[Any], name: str, *, namespace: str | None = None) -> None:
        with _mapped_errors():
            await self._lightkube.delete(res, name, namespace=namespace)

    async def watch(self, info: KindInfo, *, resource_version: str, timeout_s: int,
                    fields: dict[str, str] | None = None
                    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """(event type, object) of one kind in every namespace from `resource_version`, bookmarks
        included; when the server ends a watch, the next one starts from the last version seen.
        Raises `KubeError` (410 when the version expired) or `KubeUnreachable`."""
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_s)}
        if fields:
            params["fieldSelector"] = ",".join(f"{k}={v}" for k, v in fields.items())
        while True:
            params["resourceVersion"] = resource_version
            with _mapped_errors():
                async with self._stream.stream("GET", collection_path(info, None), params=params) as resp:
                    if resp.is_error:
                        raise _refusal(resp.status_code, _status(await resp.aread()),
                                       in_stream=False)
                    async for line in resp.aiter_lines():
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if event.get("type") == "ERROR":
                            raise _refusal(0, event.get("object") or {}, in_stream=True)
                        obj = event.get("object") or {}
                        resource_version = (obj.get("metadata") or {}).get(
                            "resourceVersion") or resource_version
                        yield event["type"], obj

    async def close(self) -> None:
        await self._lightkube.close()
        await self._stream.aclose()


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict())


def _status(body: bytes) -> dict[str, Any]:
    """The Status object an error answer carries; its text as the message if it is not one."""
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    return status if isinstance(status, dict) else {"message": body.decode(errors="replace")}


def _refusal(code: int, status: dict[str, Any], *, in_stream: bool) -> KubeError:
    return KubeError(int(status.get("code") or code), str(status.get("reason") or ""),
                     str(status.get("message") or ""), in_stream=in_stream)
