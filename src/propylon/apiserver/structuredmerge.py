"""Structured merge of JSON values typed by a `Shape`, as Kubernetes' structured-merge-diff does.

- `members(value, shape)`: every field path the value sets, with what is there. Scalars, atomic
  lists and atomic maps are leaves; the items of list-maps (`k:`) and sets (`v:`) are members
  themselves and so are their fields; a map's entry is a member itself when it is null, empty,
  or the map is not a struct (labels, annotations: free keys).
- `merge(live, applied, shape)`: the applied configuration merged into the live value. Maps
  merge key by key (null removes), list-maps item by item by their keys, sets value by value,
  anything atomic is replaced. Items only in the live list keep their place; the applied items
  keep the applied order.
- `compare(old, new, shape)`: the paths added, removed and modified (leaves whose value changed).
- `remove(value, doomed, kept, shape)`: the value without the fields at `doomed` paths; a map or
  list emptied by the removal goes too unless its own path is in `kept`, and a field with
  something in `kept` below it stays (only its doomed parts go).

Every function returns new values and leaves its inputs alone.
"""

from __future__ import annotations

import copy
from typing import Any

from propylon.apiserver.fieldpath import Element, Path, canonical
from propylon.apiserver.fieldtypes import ATOMIC, LIST_MAP, SET, ListType, Shape

CONTAINER = object()  # what `members` maps a member with members below it to


def item_element(list_type: ListType, item: Any, index: int) -> Element:
    """The path element of a list item: its keys, its value, or (no keys) its index."""
    if list_type.relation == SET:
        return ("v", canonical(item))
    if list_type.relation == LIST_MAP and isinstance(item, dict):
        defaults = dict(list_type.defaults)
        keys = {k: item[k] if k in item else defaults[k] for k in list_type.keys
                if k in item or k in defaults}
        if keys:
            return ("k", canonical(keys))
    return ("i", str(index))


def members(value: Any, shape: Shape, prefix: Path = ()) -> dict[Path, Any]:
    """Every path `value` sets (see the module docstring); container members map to
    `CONTAINER`, leaves to their value."""
    out: dict[Path, Any] = {}
    _members(value, shape, prefix, out)
    return out


def _members(value: Any, shape: Shape, prefix: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and not shape.atomic_map():
        for key, child in value.items():
            path = prefix + (("f", str(key)),)
            _members(child, shape.field(str(key)), path, out)
            if child is None or child == {} or not shape.declares(str(key)):
                out.setdefault(path, CONTAINER if child else child)
        return
    if isinstance(value, list) and shape.list_type().relation != ATOMIC:
        list_type, item_shape = shape.list_type(), shape.item()
        for index, item in enumerate(value):
            path = prefix + (item_element(list_type, item, index),)
            _members(item, item_shape, path, out)
            out.setdefault(path, CONTAINER if isinstance(item, dict) and item else item)
        return
    if prefix:
        out[prefix] = value


def compare(old: Any, new: Any, shape: Shape) -> tuple[set[Path], set[Path], set[Path]]:
    """(added, removed, modified) paths from `old` to `new`."""
    before, after = members(old, shape), members(new, shape)
    added = set(after) - set(before)
    removed = set(before) - set(after)
    modified = {p for p in set(before) & set(after)
                if (before[p] is not CONTAINER or after[p] is not CONTAINER)
                and before[p] != after[p]}
    return added, removed, modified


def merge(live: Any, applied: Any, shape: Shape) -> Any:
    """`applied` merged into `live` (see the module docstring)."""
    if isinstance(applied, dict) and isinstance(live, dict) and not shape.atomic_map():
        out = copy.deepcopy(live)
        for key, value in applied.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(live.get(key), value, shape.field(str(key)))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        list_type = shape.list_type()
        if list_type.relation != ATOMIC:
            return _merge_list(live, applied, list_type, shape.item())
    return copy.deepcopy(applied)


def _merge_list(live: list[Any], applied: list[Any], list_type: ListType,
                item_shape: Shape) -> list[Any]:
    live_by: dict[Element, Any] = {}
    for index, item in enumerate(live):
        live_by.setdefault(item_element(list_type, item, index), item)
    applied_ids = [item_element(list_type, item, i) for i, item in enumerate(applied)]
    wanted = set(applied_ids)
    out: list[Any] = []
    emitted: set[Element] = set()
    pending = list(zip(applied_ids, applied, strict=True))
    for index, item in enumerate(live):
        element = item_element(list_type, item, index)
        if element in emitted:
            continue
        if element not in wanted:
            out.append(copy.deepcopy(item))
            emitted.add(element)
            continue
        # the next applied items, up to and including this one, in the applied order
        while pending:
            applied_id, applied_item = pending.pop(0)
            if applied_id not in emitted:
                out.append(merge(live_by.get(applied_id), applied_item, item_shape))
                emitted.add(applied_id)
            if applied_id == element:
                break
    for applied_id, applied_item in pending:
        if applied_id not in emitted:
            out.append(merge(live_by.get(applied_id), applied_item, item_shape))
            emitted.add(applied_id)
    return out


class _Gone:
    """Marker: the field is removed."""


_GONE = _Gone()


def remove(value: Any, doomed: set[Path], kept: set[Path], shape: Shape) -> Any:
    """`value` without the fields at `doomed` (see the module docstring)."""
    if not doomed:
        return copy.deepcopy(value)
    below_doomed = {p[:i] for p in doomed for i in range(len(p))}
    below_kept = {p[:i] for p in kept for i in range(len(p))}
    result = _remove(value, shape, (), doomed, below_doomed, kept, below_kept)
    return {} if isinstance(result, _Gone) else result


def _remove(value: Any, shape: Shape, prefix: Path, doomed: set[Path],
            below_doomed: set[Path], kept: set[Path], below_kept: set[Path]) -> Any:
    def child(path: Path, item: Any, item_shape: Shape) -> Any:
        if path in doomed and path not in below_kept:
            return _GONE
        if path in below_doomed:
            return _remove(item, item_shape, path, doomed, below_doomed, kept, below_kept)
        return copy.deepcopy(item)

    if isinstance(value, dict) and not shape.atomic_map():
        out: dict[Any, Any] = {}
        for key, item in value.items():
            kept_item = child(prefix + (("f", str(key)),), item, shape.field(str(key)))
            if not isinstance(kept_item, _Gone):
                out[key] = kept_item
        return _GONE if value and not out and prefix and prefix not in kept else out
    if isinstance(value, list) and shape.list_type().relation != ATOMIC:
        list_type, item_shape = shape.list_type(), shape.item()
        items = [child(prefix + (item_element(list_type, item, i),), item, item_shape)
                 for i, item in enumerate(value)]
        left = [item for item in items if not isinstance(item, _Gone)]
        return _GONE if value and not left and prefix not in kept else left
    return copy.deepcopy(value)
