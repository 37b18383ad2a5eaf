"""What the converters of policy annotations return: policy fragments, route header changes
and report notes, as frozen values.

A converter reads an Ingress's annotations (and the Secrets or ConfigMaps they name) and
returns a `Converted`: `policies` (one `PolicyPart` per Envoy Gateway policy kind it needs: the
fields of that policy's spec, as canonical JSON so the value is frozen; the parts of one
Ingress are merged into one policy of each kind targeting its routes), `objects` (whole
manifests it needs beside them, e.g. the htpasswd Secret), `response_headers` (headers set on
every response of the Ingress's routes, an HTTPRoute ResponseHeaderModifier) and `notes`,
one per annotation met, with its outcome: `converted`, `differs` (what differs and why) or
`refused` (why, and what to do instead).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CONVERTED = "converted"
DIFFERS = "differs"
REFUSED = "refused"


@dataclass(frozen=True)
class Note:
    annotation: str  # without the nginx.ingress.kubernetes.io/ prefix
    outcome: str
    message: str


@dataclass(frozen=True)
class PolicyPart:
    kind: str
    spec: str  # canonical JSON of the spec fields this part sets

    @classmethod
    def of(cls, kind: str, spec: Mapping[str, Any]) -> PolicyPart:
        return cls(kind, json.dumps(spec, sort_keys=True))

    def value(self) -> dict[str, Any]:
        value = json.loads(self.spec)
        assert isinstance(value, dict)
        return value


@dataclass(frozen=True)
class Converted:
    policies: tuple[PolicyPart, ...] = ()
    objects: tuple[str, ...] = ()  # canonical JSON manifests
    response_headers: tuple[tuple[str, str], ...] = ()
    notes: tuple[Note, ...] = ()

    def __add__(self, other: Converted) -> Converted:
        return Converted(self.policies + other.policies, self.objects + other.objects,
                         self.response_headers + other.response_headers,
                         self.notes + other.notes)


def note(annotation: str, outcome: str, message: str) -> Converted:
    return Converted(notes=(Note(annotation, outcome, message),))


def policy(kind: str, spec: Mapping[str, Any], notes: Iterable[Note] = ()) -> Converted:
    return Converted(policies=(PolicyPart.of(kind, spec),), notes=tuple(notes))


def merged_specs(parts: Iterable[PolicyPart]) -> dict[str, dict[str, Any]]:
    """The spec of each kind, the parts' fields merged (objects deeply, later parts winning)."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        out[part.kind] = _merge(out.get(part.kind, {}), part.value())
    return out


def _merge(left: dict[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(left)
    for key, value in right.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
