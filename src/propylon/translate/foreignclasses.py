"""GatewayClasses that name another controller, and the note that tells a user so.

A class copied from another implementation's tutorial (`controllerName:
gateway.envoyproxy.io/gatewayclass-controller`) is not ours: Propylon writes no status on it or
its Gateways, which keep the CRDs' "Waiting for controller". `foreign(classes, ours)` finds such
classes in stored objects and `note(name, theirs, ours)` says which controller the class names,
which one Propylon is and the two ways to make it Propylon's. The controller logs the note once
per class; `propylon translate` prints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def foreign(classes: Iterable[dict[str, Any]], ours: str) -> list[tuple[str, str]]:
    """(name, controllerName) of each GatewayClass whose controllerName is not `ours`."""
    found = []
    for obj in classes:
        theirs = (obj.get("spec") or {}).get("controllerName")
        if isinstance(theirs, str) and theirs != ours:
            found.append((str((obj.get("metadata") or {}).get("name")), theirs))
    return found


def note(name: str, theirs: str, ours: str) -> str:
    """What a user needs to know about a class of controller `theirs`."""
    return (f'GatewayClass "{name}" names controllerName "{theirs}", not Propylon\'s "{ours}": '
            f"Propylon leaves it and its Gateways alone (their status stays \"Waiting for "
            f'controller"). To have Propylon serve it, set spec.controllerName: {ours} in its '
            "manifest and apply it again (on a cluster the field is immutable: delete the class "
            f"and create it again), or run Propylon with --controller-name {theirs}")
