"""How a `StatusUpdate` is merged into an object's stored status: the one definition, used by
the status writer (`propylon.controller.status`) and by `propylon translate`'s offline preview.

`wanted_status(current, update, controller_name)` is the full status an object must have, as
JSON: the one place a typed status (`statuses`) turns into what the API server stores
(`to_json()`):
- For GatewayClass, Gateway and ListenerSet it is the update's status: the whole status is this
  controller's, and a field the update lacks is gone.
- For routes and policies (`parents` / `ancestors`) it is the current status with the entries
  whose `controllerName` is this controller's replaced by the update's: entries of other
  controllers are kept untouched (anything in those lists that is not an entry is dropped).
  An object none of whose entries is ours, and whose status has no such list, gets none: a
  policy targeting only another controller's Gateways is not written at all.
- Each condition keeps its current `lastTransitionTime` when its `status` did not change, as
  the API conventions require (and so that an unchanged status compares equal). Conditions are
  matched by `type`, list entries by `type`, `parentRef`, `ancestorRef` or `name` with their
  `controllerName`.

Pure: neither argument is modified; the result may share unchanged parts with them.
"""

from __future__ import annotations

from typing import Any

from propylon.translate.types import Status

ENTRY_LISTS = ("parents", "ancestors")
_NO_ENTRY = object()  # the identity of a list item that is not an entry


def wanted_status(current: dict[str, Any] | None, status: Status,
                  controller_name: str) -> dict[str, Any]:
    """The full status an object must have, given its current status and our update's."""
    current = current or {}
    update = status.to_json()
    wanted = update
    if any(k in update for k in ENTRY_LISTS):
        wanted = dict(current)
        for key, value in update.items():
            if key in ENTRY_LISTS:
                if not value and key not in current:
                    continue  # nothing of ours to write or remove: not even an empty list
                foreign = [e for e in current.get(key) or []
                           if isinstance(e, dict) and e.get("controllerName") != controller_name]
                value = foreign + list(value)
            wanted[key] = value
    merged: dict[str, Any] = _keep_transition_times(current, wanted)
    return merged


def _identity(entry: dict[str, Any]) -> Any:
    """What makes an entry of a status list the same entry across writes."""
    for key in ("type", "parentRef", "ancestorRef", "name"):
        if key in entry:
            return (key, repr(entry[key]), entry.get("controllerName"))
    return None


def _keep_transition_times(current: Any, wanted: Any) -> Any:
    """`wanted` (rebuilt, not modified) with the lastTransitionTime of `current`'s condition of
    the same type wherever that condition's status is the same."""
    if isinstance(wanted, dict) and isinstance(current, dict):
        out = {key: _keep_transition_times(current[key], value) if key in current else value
               for key, value in wanted.items()}
        if "lastTransitionTime" in out and "type" in out \
                and current.get("status") == out.get("status") \
                and current.get("lastTransitionTime"):
            out["lastTransitionTime"] = current["lastTransitionTime"]
        return out
    if isinstance(wanted, list) and isinstance(current, list):
        before = {_identity(e): e for e in current if isinstance(e, dict)}
        out_list = []
        for entry in wanted:
            key = _identity(entry) if isinstance(entry, dict) else _NO_ENTRY
            out_list.append(_keep_transition_times(before[key], entry) if key in before
                            else entry)
        return out_list
    return wanted
