"""The one port to a Kubernetes API server: `KubeClient`, errors of our own, one class per kind.

Everything that talks to an API server (controller, informers, infrastructure managers, manifest
sync, conformance runner, standalone mode) does it through `KubeClient`, which wraps lightkube;
no other module imports lightkube or its HTTP library (an import-linter contract checks it). The
client's operations take resource class instances and return plain JSON dicts. A refusal of the
server becomes `KubeError` (its status code, reason, message and details, e.g. a 422's causes),
a failed or broken connection `KubeUnreachable` (worded as kubectl words it, naming the server).
The CLI uses the same client (`propylon get/apply/delete`); `KubeClient.read` gives it what
lightkube does not: an object or a list as the server sent it, selected by a label selector as
kubectl's `-l` takes it, or the server's Table of printer columns.

`KubeClient.watch` streams one kind's events itself, with `allowWatchBookmarks` (lightkube's
`watch()` does not expose it), through an HTTP client lightkube builds from the same
configuration (its `config.client_adapter`).

`load_client()` finds the configuration the way controller-runtime does: an explicit kubeconfig
path, else the first file of `$KUBECONFIG` (kubectl's path list, separated by `os.pathsep`), else
the in-cluster service account, else `~/.kube/config`. The embedded API server writes a
kubeconfig, so standalone mode and a real cluster take the same path. A kubeconfig's context is
its current-context or the one named (`--context`); relative file names in it (CA, client
certificate and key, token file) are read relative to the kubeconfig's directory, a context
without a user sends no credentials, and every problem is a `ClientConfigError` naming the file,
the entry and the fix.

`resource_class()` gives the lightkube class for a `KindInfo` of `propylon.api.kinds.KINDS`. Every
kind, builtin ones included, is a lightkube *generic* resource: objects travel as the plain JSON
dicts the server sent, which is what the controller stores and the translator reads. Classes are
created once per kind and cached (lightkube keeps them in a process-wide registry).
`collection_path()` and `object_path()` give a kind's REST paths (those `watch` and `read` ask for).
"""

from __future__ import annotations

import contextlib
import copy
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
import yaml
from lightkube.config import client_adapter
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import DEFAULT_KUBECONFIG, SERVICE_ACCOUNT, SingleConfig
from lightkube.config.models import User
from lightkube.core.exceptions import ApiError, ConfigError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.types import PatchType as PatchType

from propylon.api.kinds import KindInfo


class ClientConfigError(Exception):
    """No usable Kubernetes configuration was found; the message says where we looked."""


def load_kubeconfig(kubeconfig: Path | None = None,
                    context: str | None = None) -> SingleConfig:
    """The configuration `load_client()` uses; see the module docstring for the search order.
    `context` names the kubeconfig's context to use (default: its current-context)."""
    if kubeconfig is not None:
        return _from_file(Path(kubeconfig), "the kubeconfig given", context)
    env = os.environ.get("KUBECONFIG", "")
    paths = [p for p in env.split(os.pathsep) if p]
    if paths:
        return _from_file(Path(paths[0]), "the first file of $KUBECONFIG", context)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and Path(SERVICE_ACCOUNT, "token").is_file():
        try:
            in_cluster = lightkube.KubeConfig.from_service_account().get()
        except ConfigError as err:
            raise ClientConfigError(f"in-cluster configuration is unusable: {err}") from err
        assert in_cluster is not None  # its one context is the current one
        return in_cluster
    return _from_file(Path(DEFAULT_KUBECONFIG).expanduser(), "the default kubeconfig", context)


def _from_file(path: Path, what: str, context: str | None) -> SingleConfig:
    if not path.is_file():
        raise ClientConfigError(
            f"{what} {path} does not exist: pass --kubeconfig PATH or set KUBECONFIG "
            "('propylon up' prints the path of the one it writes), or run in a cluster")
    try:
        config = lightkube.KubeConfig.from_file(path)
    except (ConfigError, KeyError, TypeError, ValueError, yaml.YAMLError) as err:
        raise ClientConfigError(f"{what} {path} is not a valid kubeconfig: {err}") from err
    return _context(config, path, context)


def _context(config: lightkube.KubeConfig, path: Path, name: str | None) -> SingleConfig:
    """The named context (or the current one) with its cluster and user, as kubectl reads it."""
    name = name or config.current_context
    if not name:
        raise ClientConfigError(f"kubeconfig {path} has no current-context: set one with "
                                "'kubectl config use-context NAME' or pass --context NAME")
    ctx = _entry(config.contexts, "contexts", name, path)
    cluster = _entry(config.clusters, "clusters", ctx.cluster, path)
    user = _entry(config.users, "users", ctx.user, path) if ctx.user else User()
    token_file = user.token_file
    if token_file and not Path(token_file).is_absolute():
        user = copy.copy(user)  # the loaded kubeconfig's entry stays as written
        user.token_file = str(path.parent / token_file)
    files = {"certificate-authority": cluster.certificate_auth, "tokenFile": user.token_file,
             "client-certificate": user.client_cert, "client-key": user.client_key}
    for key, file in files.items():
        if file and not (path.parent / file).is_file():  # an absolute `file` stays as it is
            raise ClientConfigError(
                f"kubeconfig {path}: context {name!r}: {key} {path.parent / file} does not "
                "exist: fix the path (a relative one is read from the kubeconfig's directory)")
    return SingleConfig(context_name=name, context=ctx, cluster=cluster, user=user, fname=path)


def _entry(entries: dict[str, Any], section: str, name: str, path: Path) -> Any:
    if name not in entries:
        raise ClientConfigError(
            f"kubeconfig {path}: {section} has no entry named {name!r} (known: "
            f"{', '.join(entries) or 'none'}); fix the context or pass --context NAME")
    return entries[name]


def load_client(kubeconfig: Path | None = None, context: str | None = None) -> KubeClient:
    """A client for the cluster the configuration names (see the module docstring)."""
    return KubeClient(load_kubeconfig(kubeconfig, context))


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


TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
REQUEST_TIMEOUT = httpx2.Timeout(10.0)  # lightkube's, for the requests of `KubeClient.read`


@dataclass(frozen=True)
class Listing:
    """A list's objects and the resourceVersion it was read at (to watch from)."""

    items: list[dict[str, Any]]
    resource_version: str


class KubeError(Exception):
    """The API server refused a request, or a watch ended with an ERROR event (`in_stream`).

    `code` is the HTTP status (404, 409, 410 ...), `reason`, `message` and `details` (kind, name,
    causes) those of the server's Status object. An answer that is not a Status gets no reason
    and a message quoting the answer."""

    def __init__(self, code: int, reason: str, message: str, *, in_stream: bool = False,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.in_stream = code, reason, message, in_stream
        self.details: dict[str, Any] = details or {}


class KubeUnreachable(Exception):
    """No answer from the API server: the connection failed or broke. The message is kubectl's
    (`The connection to the server HOST:PORT was refused - ...`)."""


@contextlib.contextmanager
def _mapped_errors(server: str) -> Iterator[None]:
    """Lightkube's and httpx's exceptions as `KubeError` or `KubeUnreachable`."""
    try:
        yield
    except ApiError as err:
        if err.response is None:  # an ERROR event of lightkube's own watch
            raise KubeError(err.status.code or 0, err.status.reason or "",
                            err.status.message or "", in_stream=True) from err
        raise _refusal(err.response.status_code, _status(err.response), in_stream=False) from err
    except httpx2.HTTPStatusError as err:
        raise _refusal(err.response.status_code, _status(err.response), in_stream=False) from err
    except ValueError as err:
        # lightkube decodes every error answer as a Status: one that is not JSON fails there
        if not isinstance(err.__context__, httpx2.HTTPStatusError):
            raise
        response = err.__context__.response
        raise _refusal(response.status_code, _status(response), in_stream=False) from err
    except httpx2.HTTPError as err:
        host = urllib.parse.urlsplit(server).netloc or server
        if isinstance(err, httpx2.ConnectError) and _refused(err):
            raise KubeUnreachable(f"The connection to the server {host} was refused - "
                                  "did you specify the right host or port?") from err
        raise KubeUnreachable(f"Unable to connect to the server {host}: "
                              f"{err or type(err).__name__}") from err


def _refused(err: BaseException) -> bool:
    """Whether a connection error was caused by a refused connection (nothing listens)."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class KubeClient:
    """The operations the control plane asks of an API server, on plain JSON objects.

    Objects go out as resource class instances (`resource_class(info)(body)`) and come back as
    dicts; every refusal raises `KubeError`, every transport failure `KubeUnreachable`."""

    def __init__(self, config: lightkube.KubeConfig | SingleConfig) -> None:
        single = config.get() if isinstance(config, lightkube.KubeConfig) else config
        assert single is not None
        self.server = single.cluster.server
        try:
            self._lightkube = lightkube.AsyncClient(config=single)
            params = ConnectionParams(timeout=httpx2.Timeout(10.0, read=None))
            self._http = client_adapter.AsyncClient(single, params)
        except (ConfigError, OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise ClientConfigError(
                f"kubeconfig {single.fname or ''}: context {single.context_name!r}: the "
                f"cluster's CA or the user's credentials cannot be loaded ({err}); fix its "
                "certificate-authority, client-certificate and client-key entries") from err

    @property
    def namespace(self) -> str:
        """The namespace of the configuration's context: where unnamespaced objects go."""
        return str(self._lightkube.namespace)

    async def get(self, res: type[Any], name: str, *,
                  namespace: str | None = None) -> dict[str, Any]:
        with _mapped_errors(self.server):
            return _plain(await self._lightkube.get(res, name, namespace=namespace))

    async def list(self, res: type[Any], *, namespace: str | None = None,
                   labels: dict[str, str] | None = None,
                   fields: dict[str, str] | None = None) -> Listing:
        """Every object (`namespace="*"`: of all namespaces) and the list's resourceVersion."""
        with _mapped_errors(self.server):
            listing = self._lightkube.list(res, namespace=namespace, labels=dict(labels or {}),
                                           fields=dict(fields or {}))
            items = [_plain(obj) async for obj in listing]
            return Listing(items, listing.resourceVersion)

    async def create(self, obj: Any, *, namespace: str | None = None) -> dict[str, Any]:
        with _mapped_errors(self.server):
            created = await self._lightkube.create(obj, namespace=namespace)  # type: ignore[call-overload]
            return _plain(created)

    async def replace(self, obj: Any, name: str | None = None, *,
                      namespace: str | None = None) -> dict[str, Any]:
        """Replace `obj` (its own name and namespace unless given)."""
        with _mapped_errors(self.server):
            return _plain(await self._lightkube.replace(
                obj, name, namespace=namespace))  # type: ignore[arg-type]

    async def apply(self, obj: Any, *, field_manager: str, force: bool = False) -> dict[str, Any]:
        with _mapped_errors(self.server):
            return _plain(await self._lightkube.apply(obj, field_manager=field_manager, force=force))

    async def patch(self, res: type[Any], name: str, patch: Any, *, patch_type: PatchType,
                    namespace: str | None = None,
                    field_manager: str | None = None) -> dict[str, Any]:
        with _mapped_errors(self.server):
            return _plain(await self._lightkube.patch(res, name, patch, patch_type=patch_type,
                                                      namespace=namespace,
                                                      field_manager=field_manager))

    async def delete(self, res: type[Any], name: str, *, namespace: str | None = None) -> None:
        with _mapped_errors(self.server):
            await self._lightkube.delete(res, name, namespace=namespace)

    async def read(self, info: KindInfo, namespace: str | None, name: str | None = None, *,
                   selector: str | None = None, table: bool = False) -> dict[str, Any]:
        """One object (`name`) or the list of one kind (`namespace=None`: of every namespace) as
        the server sent it; `selector` is a label selector as kubectl's `-l` takes it, `table`
        asks for the server's Table of the kind's printer columns, as `kubectl get` does."""
        path = object_path(info, namespace, name) if name else collection_path(info, namespace)
        params = {"labelSelector": selector} if selector else {}
        headers = {"Accept": TABLE_ACCEPT} if table else {}
        with _mapped_errors(self.server):
            resp = await self._http.get(path, params=params, headers=headers,
                                        timeout=REQUEST_TIMEOUT)
            if resp.is_error:
                raise _refusal(resp.status_code, _status(resp), in_stream=False)
            answer = resp.json()
        return answer if isinstance(answer, dict) else {}

    async def watch(self, info: KindInfo, *, resource_version: str, timeout_s: int,
                    fields: dict[str, str] | None = None, labels: dict[str, str] | None = None
                    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """(event type, object) of one kind in every namespace from `resource_version`, bookmarks
        included; when the server ends a watch, the next one starts from the last version seen.
        Raises `KubeError` (410 when the version expired) or `KubeUnreachable`."""
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_s)}
        if fields:
            params["fieldSelector"] = ",".join(f"{k}={v}" for k, v in fields.items())
        if labels:
            params["labelSelector"] = ",".join(f"{k}={v}" for k, v in labels.items())
        while True:
            params["resourceVersion"] = resource_version
            with _mapped_errors(self.server):
                async with self._http.stream("GET", collection_path(info, None), params=params) as resp:
                    if resp.is_error:
                        await resp.aread()
                        raise _refusal(resp.status_code, _status(resp), in_stream=False)
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
        await self._http.aclose()


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict())


def _status(response: httpx2.Response) -> dict[str, Any]:
    """The Status object an error answer carries; a message quoting the answer if it is not one."""
    try:
        status = json.loads(response.content)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return status
    text = response.content.decode(errors="replace").strip() or response.reason_phrase
    return {"message": f"the server answered {response.status_code}: {text}"}


def _refusal(code: int, status: dict[str, Any], *, in_stream: bool) -> KubeError:
    details = status.get("details")
    return KubeError(int(status.get("code") or code), str(status.get("reason") or ""),
                     str(status.get("message") or ""), in_stream=in_stream,
                     details=details if isinstance(details, dict) else None)
