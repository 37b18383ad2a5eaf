"""The input and output of `translate()`: an immutable Snapshot in, a Result out.

A `Snapshot` holds every object the controller watches, as the plain JSON dicts the API server
returned (kind -> objects), plus what the infrastructure manager reports for each Gateway and
what each Gateway's Envoys refused (`ir.Rejections`, reported by the xDS server). The
translator decodes them with `propylon.api` and never mutates them.

A `Result` holds the status each object must have (`StatusUpdate`, a typed status from
`statuses` that the one status writer applies as its `to_json()`), the per-Gateway IR for xDS, and the per-Gateway InfraIR for the infrastructure
manager.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from propylon.ir.model import GatewayIR, GatewayKey, InfraIR, InfraState, Rejections

DEFAULT_CONTROLLER_NAME = "propylon.dev/gateway-controller"


class Store(Protocol):
    """Where a stage keeps what it built for the next pass, by key (`memo.Store`)."""

    def get(self, key: tuple[Hashable, ...] | None) -> Any: ...

    def put(self, key: tuple[Hashable, ...] | None, value: Any) -> None: ...


@dataclass(frozen=True)
class WriteTime:
    """The type of `WRITE_TIME`: a value no input holds, told apart by its type."""


# A Snapshot's `now` for a writer that stamps the time itself: conditions that change carry
# this value as lastTransitionTime, and the status writer replaces it with the time of the
# write. A pass then depends on no clock, so a status not written yet is not a new one every
# second. It is no string, so it cannot pass for a time, should it ever get out.
WRITE_TIME = WriteTime()
Now = str | WriteTime  # the lastTransitionTime of conditions that change now


@dataclass(frozen=True)
class IngressSettings:
    """Which Ingress objects the controller serves besides those of its IngressClasses (the
    class names in `class_names`, e.g. `nginx`) and ingress-nginx's ConfigMap it reads
    (`namespace/name`, "" for none); see `ingress.serving`."""

    configmap: str = ""
    class_names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Snapshot:
    """`objects` maps a kind ("Gateway", "Service", ...) to its objects as JSON dicts."""

    objects: Mapping[str, tuple[dict[str, Any], ...]]
    infra: Mapping[GatewayKey, InfraState] = field(default_factory=dict)
    controller_name: str = DEFAULT_CONTROLLER_NAME
    # lastTransitionTime of conditions that change now (or `WRITE_TIME`)
    now: Now = "1970-01-01T00:00:00Z"
    # what each Gateway's Envoys refuse, as the xDS server reports it (see `rejections`)
    rejections: Mapping[GatewayKey, Rejections] = field(default_factory=dict)
    ingress: IngressSettings = IngressSettings()

    def of(self, kind: str) -> tuple[dict[str, Any], ...]:
        return tuple(self.objects.get(kind, ()))


class Status(Protocol):
    """A status as a frozen value (`statuses`); `to_json()` is what the API server stores."""

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StatusUpdate:
    """The status one object must have.

    For GatewayClass, Gateway and ListenerSet `status` is the whole status. For routes and
    policies it holds only this controller's entries of `parents` (or `ancestors`); the writer
    keeps the entries of other controllers.
    """

    api_version: str
    kind: str
    namespace: str | None
    name: str
    generation: int
    status: Status


@dataclass(frozen=True)
class Result:
    statuses: tuple[StatusUpdate, ...]
    gateways: Mapping[GatewayKey, GatewayIR]
    infra: Mapping[GatewayKey, InfraIR]
    # what the conversion of served Ingress objects could not do as ingress-nginx does, one
    # line per Ingress and annotation (`serving.report_lines`), for the controller's log
    ingress_notes: tuple[str, ...] = ()
