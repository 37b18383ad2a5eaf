"""The status of Envoy Gateway's Backends that our routes use, as Envoy Gateway writes it.

`statuses(objects, backends, now)`: for each Backend some backendRef of a route of ours asked
for (`Backends.eg_backends_used`), `status.conditions` with Accepted True ("The Backend was
accepted") or Accepted False reason Invalid naming every problem of its spec
(`api.egbackend`) or of the CA ConfigMaps it names (`Backends.eg_problems`). A Backend no route of ours uses gets no status from Propylon: another
controller may own it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from propylon.api.egbackend import GROUP, KIND
from propylon.api.meta import stored_conditions
from propylon.translate import conditions as c
from propylon.translate.backends import Backends
from propylon.translate.statuses import ConditionsStatus
from propylon.translate.types import Now, StatusUpdate

API_VERSION = f"{GROUP}/v1alpha1"
ACCEPTED_MESSAGE = "The Backend was accepted"


def statuses(objects: Iterable[dict[str, Any]], backends: Backends,
             now: Now) -> list[StatusUpdate]:
    stored = {((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")):
              o for o in objects}
    out = []
    for backend in backends.eg_backends_used():
        obj = stored.get((backend.meta.namespace, backend.meta.name)) or {}
        conds = c.Conditions(stored_conditions((obj.get("status") or {}).get("conditions")),
                             backend.meta.generation, now)
        resolved = backends.eg_problems.get((backend.meta.namespace, backend.meta.name))
        if backend.problems:
            conds.set(c.ACCEPTED, False, c.INVALID, "; ".join(backend.problems))
        elif resolved is not None:
            conds.set(c.ACCEPTED, False, c.INVALID, resolved)
        else:
            conds.set(c.ACCEPTED, True, c.ACCEPTED, ACCEPTED_MESSAGE)
        out.append(StatusUpdate(API_VERSION, KIND, backend.meta.namespace, backend.meta.name,
                                backend.meta.generation, ConditionsStatus(conds.as_tuple())))
    return out
