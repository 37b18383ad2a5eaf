"""A simple model of field ownership, kept in `metadata.managedFields`.

Each write with a `fieldManager` records which leaf fields that manager set (maps are walked,
lists and scalars are leaves; `apiVersion`, `kind` and metadata other than labels and
annotations are not tracked), in the FieldsV1 format (`{"f:spec": {"f:x": {}}}`). An update
takes the fields it changed away from other managers. A server-side apply owns exactly the
fields of its applied configuration; applying a value different from the live one to a field
another manager owns is a 409 Conflict listing the fields, unless `force=true`, which takes them
over. This is coarser than Kubernetes' structured-merge-diff (no per-element ownership in lists,
no removal of fields a manager stops applying) but gives the same answers for the common cases.
"""

from __future__ import annotations

from typing import Any

from propylon.api.kinds import KindInfo
from propylon.apiserver.errors import APIError

Path = tuple[str, ...]


def _leaves(value: Any, prefix: Path) -> dict[Path, Any]:
    if isinstance(value, dict) and value:
        out: dict[Path, Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, prefix + (str(key),)))
        return out
    return {prefix: value}


def tracked(obj: dict[str, Any]) -> dict[Path, Any]:
    """The leaf fields of `obj` that ownership is recorded for, with their values."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    out = _leaves(body, ()) if body else {}
    meta = obj.get("metadata") or {}
    for field in ("labels", "annotations"):
        if isinstance(meta.get(field), dict):
            out.update(_leaves(meta[field], ("metadata", field)))
    return out


def _encode(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def _decode(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for key, child in fields.items():
        if not key.startswith("f:"):
            continue
        path = prefix + (key[2:],)
        paths |= _decode(child, path) if child else {path}
    return paths


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _value(obj: dict[str, Any], path: Path) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _subsumes(live: Any, applied: Any) -> bool:
    """Whether applying `applied` leaves `live` as it is (server defaults such as a Service
    port's protocol do not count as a difference)."""
    if isinstance(applied, dict):
        return isinstance(live, dict) and all(_subsumes(live.get(k), v)
                                              for k, v in applied.items())
    if isinstance(applied, list):
        return isinstance(live, list) and len(live) == len(applied) and \
            all(_subsumes(a, b) for a, b in zip(live, applied, strict=True))
    return bool(live == applied)


def _entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(e) for e in obj.get("metadata", {}).get("managedFields") or []
            if isinstance(e, dict)]


def _save(obj: dict[str, Any], entries: list[dict[str, Any]], owner: dict[str, Any],
          paths: set[Path]) -> None:
    kept = []
    for entry in entries:
        if (entry.get("manager"), entry.get("operation"), entry.get("subresource")) == \
                (owner["manager"], owner["operation"], owner.get("subresource")):
            continue
        if _decode(entry.get("fieldsV1") or {}):
            kept.append(entry)
    if paths:
        kept.append({**owner, "fieldsType": "FieldsV1", "fieldsV1": _encode(paths)})
    obj.setdefault("metadata", {})["managedFields"] = kept


def _take(entries: list[dict[str, Any]], taken: set[Path], owner: dict[str, Any]) -> None:
    """Remove `taken` (and anything overlapping it) from every other manager's fields."""
    for entry in entries:
        if entry.get("manager") == owner["manager"] and \
                entry.get("operation") == owner["operation"]:
            continue
        owned = _decode(entry.get("fieldsV1") or {})
        left = {p for p in owned if not any(_overlaps(p, t) for t in taken)}
        if left != owned:
            entry["fieldsV1"] = _encode(left)


def record_update(obj: dict[str, Any], old: dict[str, Any] | None, manager: str,
                  api_version: str, time: str, status: bool) -> None:
    """`manager` wrote `obj` (replacing `old`) with create, update or a non-apply patch."""
    new_fields = tracked(obj)
    old_fields = tracked(old) if old is not None else {}
    changed = {p for p, v in new_fields.items() if p not in old_fields or old_fields[p] != v}
    changed = {p for p in changed if (p[:1] == ("status",)) == status}
    entries = _entries(obj)
    owner: dict[str, Any] = {"manager": manager, "operation": "Update",
                             "apiVersion": api_version, "time": time}
    if status:
        owner["subresource"] = "status"
    mine = next((e for e in entries if e.get("manager") == manager
                 and e.get("operation") == "Update"
                 and e.get("subresource") == owner.get("subresource")), None)
    previous = _decode(mine.get("fieldsV1") or {}) if mine else set()
    _take(entries, changed, owner)
    current = {p for p in previous | changed if p in new_fields}
    _save(obj, entries, owner, current)


def record_apply(obj: dict[str, Any], manager: str, api_version: str, applied: Any, time: str,
                 force: bool = False, live: dict[str, Any] | None = None,
                 info: KindInfo | None = None) -> None:
    """`manager` server-side applied `applied`, giving `obj`. Raises 409 on a conflict with
    another manager unless `force`."""
    applied_fields = tracked(applied) if isinstance(applied, dict) else {}
    entries = _entries(live if live is not None else obj)
    owner = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": time}
    conflicts: dict[str, list[Path]] = {}
    if live is not None and not force:
        for entry in entries:
            if entry.get("manager") == manager and entry.get("operation") == "Apply":
                continue
            for owned in _decode(entry.get("fieldsV1") or {}):
                for path, value in applied_fields.items():
                    if _overlaps(owned, path) and not _subsumes(_value(live, path), value):
                        conflicts.setdefault(str(entry.get("manager")), []).append(path)
    if conflicts:
        lines = [f'conflict with "{m}": ' + ", ".join("." + ".".join(p) for p in sorted(set(ps)))
                 for m, ps in conflicts.items()]
        count = sum(len(set(ps)) for ps in conflicts.values())
        name = (live or {}).get("metadata", {}).get("name", "")
        raise APIError(409, "Conflict",
                       f"Apply failed with {count} conflict{'s' if count > 1 else ''}: "
                       + "; ".join(lines) + ". Use force=true (kubectl --force-conflicts) to "
                       "take ownership, or leave those fields out of the applied configuration",
                       {"name": name, "group": info.group if info else "",
                        "kind": info.plural if info else ""})
    if force:
        _take(entries, set(applied_fields), owner)
    _save(obj, entries, owner, set(applied_fields))
