"""Object metadata shared by every typed model, decoded from the `metadata` of a JSON object.

`ObjectMeta.of(obj)` never fails: a missing field decodes as its zero value, so the translator can
work on whatever the API server holds. `stored_conditions` decodes a stored conditions list
(what keeping a condition's lastTransitionTime reads), `status_conditions` an object's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str
    generation: int
    creation_timestamp: str
    uid: str
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectMeta:
        meta = obj.get("metadata") or {}
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or ""),
            generation=int(meta.get("generation") or 0),
            creation_timestamp=str(meta.get("creationTimestamp") or ""),
            uid=str(meta.get("uid") or ""),
            labels=tuple(sorted((meta.get("labels") or {}).items())),
            annotations=tuple(sorted((meta.get("annotations") or {}).items())),
        )

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class StoredCondition:
    """A condition as a stored status holds it, as far as keeping its time reads it."""

    type: str
    status: str  # "True", "False" or "Unknown"
    last_transition_time: str | None


def stored_conditions(raw: Any) -> tuple[StoredCondition, ...]:
    """A stored `conditions` list; entries that are not objects are skipped."""
    return tuple(StoredCondition(str(c.get("type", "")), str(c.get("status", "")),
                                 c.get("lastTransitionTime"))
                 for c in raw or () if isinstance(c, dict))


def status_conditions(obj: dict[str, Any]) -> tuple[StoredCondition, ...]:
    """The conditions currently in `obj.status` (used to keep lastTransitionTime stable)."""
    return stored_conditions((obj.get("status") or {}).get("conditions"))
