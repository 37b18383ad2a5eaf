"""Field ownership in `metadata.managedFields` and server-side apply, as Kubernetes does them.

Each entry of `managedFields` is one manager's fields for one operation (`Apply` or `Update`)
and subresource, as a field set in FieldsV1 (`fieldpath`). Paths follow the kind's list and map
types (`fieldtypes`): a Gateway listener is owned by name (`k:{"name":"https"}`), a set item by
value (`v:"x"`), an atomic list or map whole. Ownership is recorded for the object's body and
for metadata labels, annotations, finalizers and ownerReferences; the main resource of a kind
with a status subresource records no `status`, the status subresource nothing else.

`apply` is a server-side apply (structured merge, `structuredmerge`):
1. the applied configuration is merged into the live object, per the list and map types;
2. a field this changes (added or modified) that another manager owns is a conflict: 409 with
   a `Status` listing each field and its manager, unless `force`, which takes those fields from
   the others;
3. the manager's `Apply` entry becomes exactly the fields of its configuration;
4. fields the manager applied last time but no longer does are removed from the object, unless
   another manager (or its own configuration) still owns them.

`record_update` is every other write (create, update, JSON/merge/strategic patch): the writer's
`Update` entry gains the fields it added or changed and loses those it removed; other managers
lose the fields it added or changed. A write that sends no `managedFields` keeps the stored
ones. An entry whose fields did not change keeps its timestamp, so a write that changes nothing
still changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.apiserver.errors import APIError
from propylon.apiserver.fieldpath import Path, decode, encode, path_string
from propylon.apiserver.fieldtypes import Shape
from propylon.apiserver.structuredmerge import compare, members, merge, remove

_META_TRACKED = ("labels", "annotations", "finalizers", "ownerReferences")


def tracked(obj: dict[str, Any] | None, info: KindInfo, status: bool) -> dict[str, Any]:
    """The part of `obj` that ownership is recorded for (see the module docstring)."""
    if not isinstance(obj, dict):
        return {}
    if status:
        return {"status": obj["status"]} if "status" in obj else {}
    out = {k: v for k, v in obj.items()
           if k not in ("apiVersion", "kind", "metadata")
           and not (k == "status" and info.has_status)}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        kept = {k: meta[k] for k in _META_TRACKED if k in meta}
        if kept:
            out["metadata"] = kept
    return out


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    meta = (obj or {}).get("metadata") or {}
    return [dict(e) for e in meta.get("managedFields") or [] if isinstance(e, dict)]


def _fields(entry: dict[str, Any]) -> set[Path]:
    return decode(entry.get("fieldsV1") or {})


def _is(entry: dict[str, Any], owner: dict[str, Any]) -> bool:
    return (entry.get("manager"), entry.get("operation"), entry.get("subresource")) == \
        (owner["manager"], owner["operation"], owner.get("subresource"))


def _save(obj: dict[str, Any], entries: list[dict[str, Any]], owner: dict[str, Any],
          fields: set[Path], others: dict[int, set[Path]]) -> None:
    """Store `entries` with the other managers' fields replaced by `others` (by position) and
    `owner`'s entry holding `fields` (in its place, or last if new); empty entries are
    dropped."""
    encoded = encode(fields)
    fresh = {**owner, "fieldsType": "FieldsV1", "fieldsV1": encoded}
    kept: list[dict[str, Any]] = []
    for position, entry in enumerate(entries):
        if _is(entry, owner):
            unchanged = entry.get("fieldsV1") == encoded and \
                entry.get("apiVersion") == owner["apiVersion"]
            entry, fresh = (entry if unchanged else fresh), {}
        elif position in others:
            entry = {**entry, "fieldsV1": encode(others[position])}
        if decode(entry.get("fieldsV1")):
            kept.append(entry)
    if fresh and fields:
        kept.append(fresh)
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _owner(manager: str, operation: str, api_version: str, time: str,
           status: bool) -> dict[str, Any]:
    owner = {"manager": manager, "operation": operation, "apiVersion": api_version,
             "time": time}
    if status:
        owner["subresource"] = "status"
    return owner


def record_update(obj: dict[str, Any], old: dict[str, Any] | None, manager: str | None,
                  info: KindInfo, shape: Shape, time: str, status: bool) -> None:
    """`manager` wrote `obj` (replacing `old`) with create, update or a non-apply patch."""
    meta = obj.setdefault("metadata", {})
    entries = _entries(obj if meta.get("managedFields") is not None else old)
    if not manager:
        if entries:
            meta["managedFields"] = entries
        return
    added, removed, modified = compare(tracked(old, info, status), tracked(obj, info, status),
                                       shape)
    changed = added | modified
    owner = _owner(manager, "Update", info.api_version, time, status)
    mine = next((e for e in entries if _is(e, owner)), None)
    others = {i: _fields(e) - changed for i, e in enumerate(entries) if not _is(e, owner)}
    _save(obj, entries, owner, ((_fields(mine) if mine else set()) - removed) | changed, others)


def _config(applied: dict[str, Any]) -> dict[str, Any]:
    """An applied configuration without the managedFields it may carry."""
    config = {k: v for k, v in applied.items() if k != "metadata"}
    config["metadata"] = {k: v for k, v in (applied.get("metadata") or {}).items()
                          if k != "managedFields"}
    return config


def record_apply(obj: dict[str, Any], applied: dict[str, Any], manager: str, info: KindInfo,
                 shape: Shape, time: str) -> None:
    """`manager` created `obj` by applying `applied`: it owns the fields it applied."""
    fields = set(members(tracked(_config(applied), info, False), shape))
    _save(obj, [], _owner(manager, "Apply", info.api_version, time, False), fields, {})


def apply(live: dict[str, Any], applied: dict[str, Any], manager: str, info: KindInfo,
          shape: Shape, time: str, force: bool = False, status: bool = False,
          defaults: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, Any]:
    """The object after `manager` server-side applies `applied` to `live`, with its
    managedFields. Raises a 409 Conflict (see the module docstring) unless `force`. The merge
    is compared with `live` once `defaults` filled it: leaving out a field the server
    defaults anyway (inside an atomic list, say) changes nothing, so it is no conflict."""
    config = _config(applied)
    merged = merge(live, config, shape)
    if defaults is not None:
        merged = defaults(merged)
    entries = _entries(live)
    owner = _owner(manager, "Apply", info.api_version, time, status)
    added, _, modified = compare(tracked(live, info, status), tracked(merged, info, status),
                                 shape)
    changed = added | modified
    clashes = {i: _fields(e) & changed for i, e in enumerate(entries) if not _is(e, owner)}
    clashes = {i: fields for i, fields in clashes.items() if fields}
    if clashes and not force:
        raise _conflict(info, merged, {i: (entries[i], f) for i, f in clashes.items()})
    others = {i: _fields(e) - clashes.get(i, set()) for i, e in enumerate(entries)
              if not _is(e, owner)}
    mine = next((e for e in entries if _is(e, owner)), None)
    fields = set(members(tracked(config, info, status), shape))
    owned = fields.union(*others.values())
    doomed = (_fields(mine) if mine else set()) - owned
    result: dict[str, Any] = remove(merged, doomed, owned, shape)
    _save(result, entries, owner, fields, others)
    return result


def _conflict(info: KindInfo, obj: dict[str, Any],
              clashes: dict[int, tuple[dict[str, Any], set[Path]]]) -> APIError:
    """Kubernetes' 409 for an apply conflict: one cause per field, naming its manager."""
    by_manager: dict[str, list[str]] = defaultdict(list)
    causes = []
    for entry, fields in clashes.values():
        who = f'conflict with "{entry.get("manager")}"'
        if entry.get("operation") == "Apply":
            who += f' using {entry.get("apiVersion")}'
        if entry.get("subresource"):
            who += f' with subresource "{entry["subresource"]}"'
        for field in sorted(path_string(p) for p in fields):
            by_manager[who].append(field)
            causes.append({"reason": "FieldManagerConflict", "message": who, "field": field})
    count = len(causes)
    lines = [f"{who}: {', '.join(fields)}" for who, fields in by_manager.items()]
    name = (obj.get("metadata") or {}).get("name", "")
    return APIError(409, "Conflict",
                    f"Apply failed with {count} conflict{'s' if count > 1 else ''}: "
                    + "; ".join(lines) + ". Use force=true (kubectl --force-conflicts) to take "
                    "ownership, or leave those fields out of the applied configuration",
                    {"name": name, "group": info.group, "kind": info.plural, "causes": causes})
