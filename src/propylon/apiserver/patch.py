"""The patch formats of the Kubernetes API, applied to plain JSON dicts.

- JSON patch (RFC 6902, `application/json-patch+json`): add, remove, replace, move, copy, test.
- JSON merge patch (RFC 7386, `application/merge-patch+json`) is `propylon.api.mergepatch`.
  (Server-side apply merges by the schema's list types: `structuredmerge`.)
- Strategic merge patch (`application/strategic-merge-patch+json`), builtin kinds only: lists
  with a merge key (Service `spec.ports` by `port`, containers and env by `name`, ...: the first
  key of each list-map in `fieldtypes.BUILTIN_LISTS`) merge
  element by element; `$patch: replace|delete|merge`, `$setElementOrder/<list>`,
  `$deleteFromPrimitiveList/<list>` and `$retainKeys` are honoured; other lists are replaced.

Every function returns a new value and leaves its inputs alone. A patch that cannot apply
raises `PatchError` with a message naming the path.
"""

from __future__ import annotations

import copy
from typing import Any

from propylon.apiserver.fieldtypes import BUILTIN_LISTS, LIST_MAP, SET

# merge keys by kind, for list paths (field names, "[]" for a list's items): the first key of
# each list-map Kubernetes declares (its patchMergeKey), for every kind and per kind
MERGE_KEYS: dict[str, dict[tuple[str, ...], str]] = {
    kind: {**{path: t.keys[0] for path, t in BUILTIN_LISTS[""].items() if t.relation == LIST_MAP},
           **{path: t.keys[0] for path, t in lists.items() if t.relation == LIST_MAP}}
    for kind, lists in BUILTIN_LISTS.items() if kind}
# lists of scalars merged as sets
PRIMITIVE_SETS = {path for path, t in BUILTIN_LISTS[""].items() if t.relation == SET}


class PatchError(Exception):
    """A patch that does not apply to the object."""


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise PatchError(f'invalid array index "{token}" in "{path}"')
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f'array index {index} out of range in "{path}"')
    return index


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("the whole document cannot be the target of this operation")
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, False)]
        else:
            raise PatchError(f'path "{path}" does not exist: missing "{token}"')
    return node, tokens[-1]


def _get(doc: Any, path: str) -> Any:
    if not _pointer(path):
        return doc
    parent, last = _parent(doc, path)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, False)]
    raise PatchError(f'path "{path}" does not exist')


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f'unable to remove nonexistent key "{last}" at "{path}"')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, False))
    raise PatchError(f'path "{path}" does not exist')


def _add(doc: Any, path: str, value: Any) -> Any:
    if not _pointer(path):
        return value
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, True), value)
    else:
        raise PatchError(f'path "{path}" does not exist')
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {number} needs \"op\" and \"path\"")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f'operation {number} ("{kind}" {path}) needs a "value"')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f'operation {number} ("{kind}" {path}) needs a "from"')
            value = _remove(doc, op["from"]) if kind == "move" \
                else copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f'test operation failed: "{path}" is not {op["value"]!r}')
        else:
            raise PatchError(f'unknown JSON patch operation "{kind}" (operation {number})')
    return doc


class _Deleted:
    """Marker: a `$patch: delete` map removes its field."""


_DELETED = _Deleted()


def strategic_merge_patch(kind: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of a builtin `kind`."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    result = _smp_map(MERGE_KEYS.get(kind, {}), target, patch, ())
    return {} if isinstance(result, _Deleted) else result


def _strip(value: Any) -> Any:
    """A patch value with its directives removed, as it is stored when nothing merges into it."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value
                if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    return value


def _smp_map(keys: dict[tuple[str, ...], str], target: Any, patch: dict[str, Any],
             path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise PatchError(f'unknown $patch directive "{directive}" at "{".".join(path)}"')
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(keys, result.get(key), value, path + (key,))
            if isinstance(merged, _Deleted):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(keys, result.get(key), value, path + (key,),
                                    patch.get(f"$setElementOrder/{key}"))
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if field not in patch and isinstance(result.get(field), list):
                result[field] = _reorder(result[field], value, keys.get(path + (field,)))
    if isinstance(patch.get("$retainKeys"), list):
        retained = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in retained}
    return result


def _smp_list(keys: dict[tuple[str, ...], str], target: Any, patch: list[Any],
              path: tuple[str, ...], order: Any) -> list[Any]:
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return _strip([v for v in patch if not (isinstance(v, dict) and "$patch" in v)])
    current = list(copy.deepcopy(target)) if isinstance(target, list) else []
    if path in PRIMITIVE_SETS:
        return current + [v for v in patch if v not in current]
    merge_key = keys.get(path)
    if merge_key is None:
        return _strip(patch)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f'every element of "{".".join(path)}" needs its merge key '
                             f'"{merge_key}"')
        position = next((i for i, v in enumerate(current)
                         if isinstance(v, dict) and v.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if position is not None:
                current.pop(position)
        elif position is None:
            current.append(_strip(item))
        else:
            current[position] = _smp_map(keys, current[position], item, path + ("[]",))
    return _reorder(current, order, merge_key) if isinstance(order, list) else current


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """Sort `items` by their position in `order`; items not in `order` keep theirs, last."""
    def identity(value: Any) -> Any:
        return value.get(merge_key) if merge_key and isinstance(value, dict) else value
    wanted = [identity(v) for v in order]
    ranked = [(wanted.index(identity(v)) if identity(v) in wanted else len(wanted) + i, v)
              for i, v in enumerate(items)]
    return [v for _, v in sorted(ranked, key=lambda pair: pair[0])]
