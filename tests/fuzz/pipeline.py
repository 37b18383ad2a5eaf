"""Manifests -> API validation -> translation -> xDS -> Envoy, as the product runs them.

`admit_and_translate(objects, world)` does what the API server and the controller would do
with one world of manifests (`manifests.placed` for world number `world`): objects the API
validation refuses are not stored (nor translated), the others are stored as the API server
would (`propylon translate`'s `as_stored`, a later object replacing an earlier one of the same
kind, namespace and name), translated with each Gateway given an address of the world's own
pool (127.<world / 256>.<world % 256>.1 on), and every Gateway's IR is turned into xDS
resources. `bootstrap_of(worlds)` is the one static Envoy bootstrap serving all of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from propylon.api.validation import validate
from propylon.cli.translate import as_stored, snapshot_of
from propylon.translate import translate
from propylon.translate.types import DEFAULT_CONTROLLER_NAME, Result
from propylon.xds.translate import XdsResources
from propylon.xds.translate import translate as xds_translate
from propylon.xds.translate.static import static_bootstrap
from tests.fuzz.manifests import Obj, placed

NOW = "2026-01-01T00:00:00Z"
POOLS = ipaddress.IPv4Address("127.1.0.1")


@dataclass(frozen=True)
class Translated:
    """One world after the API server and the controller: what was stored, what was refused
    (with the API's errors), the result of translation and each Gateway's xDS resources."""

    stored: tuple[Obj, ...]
    refused: tuple[tuple[Obj, str], ...]
    result: Result
    resources: tuple[XdsResources, ...]

    def statuses(self) -> dict[str, Any]:
        """Computed status by `Kind ns/name`, for failure messages."""
        return {f"{u.kind} {u.namespace}/{u.name}": u.status.to_json() for u in self.result.statuses}


def admit_and_translate(objects: list[Obj], world: int) -> Translated:
    stored: dict[tuple[str, str, str], Obj] = {}
    refused: list[tuple[Obj, str]] = []
    for obj in placed(objects, world):
        errors = validate(obj)
        if errors:
            refused.append((obj, "; ".join(f"{e.field}: {e.message}" for e in errors)))
            continue
        obj = as_stored(obj)
        meta = obj["metadata"]
        stored[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    snapshot = snapshot_of(list(stored.values()), DEFAULT_CONTROLLER_NAME, NOW,
                           pool_start=POOLS + 256 * world)
    result = translate(snapshot)
    resources = tuple(xds_translate(result.gateways[key]) for key in sorted(result.gateways))
    static_bootstrap(resources)  # a dangling reference is this world's own error
    return Translated(tuple(stored.values()), tuple(refused), result, resources)


def bootstrap_of(worlds: Sequence[Translated]) -> dict[str, Any]:
    return static_bootstrap(r for w in worlds for r in w.resources)
