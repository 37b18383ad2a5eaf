"""Connecting to a Kubernetes API: a lightkube `AsyncClient` and one resource class per kind.

`load_client()` finds the configuration the way controller-runtime does: an explicit kubeconfig
path, else the first file of `$KUBECONFIG` (kubectl's path list, separated by `os.pathsep`), else
the in-cluster service account, else `~/.kube/config`. The embedded API server writes a
kubeconfig, so standalone mode and a real cluster take the same path.

`resource_class()` gives the lightkube class for a `KindInfo` of `propylon.api.kinds.KINDS`. Every
kind, builtin ones included, is a lightkube *generic* resource: objects travel as the plain JSON
dicts the server sent, which is what the controller stores and the translator reads. Classes are
created once per kind and cached (lightkube keeps them in a process-wide registry).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import lightkube
from lightkube.config.kubeconfig import DEFAULT_KUBECONFIG, SERVICE_ACCOUNT
from lightkube.core.exceptions import ConfigError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource

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


def load_client(kubeconfig: Path | None = None) -> lightkube.AsyncClient:
    """An async client for the cluster the configuration names (see the module docstring)."""
    return lightkube.AsyncClient(config=load_kubeconfig(kubeconfig))


@functools.cache
def resource_class(info: KindInfo) -> type[Any]:
    """The lightkube generic resource class of one kind (namespaced or cluster-scoped)."""
    create = create_namespaced_resource if info.namespaced else create_global_resource
    return create(info.group, info.version, info.kind, info.plural)
