"""Field paths and the FieldsV1 format of `metadata.managedFields`.

A path is a tuple of elements, each a pair: `("f", name)` for a field of a map, `("k", keys)` for
the item of a list-map (keys as canonical JSON: `{"name":"https"}`), `("v", value)` for the item
of a set (the value as JSON) and `("i", index)` for a list item known only by its position.
A field set is a set of paths, the fields someone owns.

FieldsV1 nests one JSON object per element, keyed `f:name`, `k:{"name":"https"}`, `v:"value"` or
`i:0`, as Kubernetes writes them; a path that is owned and also has owned fields below it
carries `".": {}`. `path_string` is the form Kubernetes prints in conflicts:
`.spec.listeners[name="https"].port`.
"""

from __future__ import annotations

import json
from typing import Any

Element = tuple[str, str]
Path = tuple[Element, ...]


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces, as structured-merge-diff serializes keys."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def encode(paths: set[Path]) -> dict[str, Any]:
    """FieldsV1 of a field set."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for kind, text in path:
            node = node.setdefault(f"{kind}:{text}", {})
    for path in paths:
        node = root
        for kind, text in path:
            node = node[f"{kind}:{text}"]
        if node:
            node["."] = {}
    return _sorted(root)


def _sorted(node: dict[str, Any]) -> dict[str, Any]:
    """`.` first, then the keys in order, as Kubernetes serializes a field set."""
    return {key: _sorted(node[key]) for key in sorted(node, key=lambda k: (k != ".", k))}


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    """The field set of a FieldsV1 object (unknown keys are skipped)."""
    paths: set[Path] = set()
    if not isinstance(fields, dict):
        return paths
    for key, child in fields.items():
        if key == ".":
            paths.add(prefix)
            continue
        kind, sep, text = key.partition(":")
        if not sep or kind not in ("f", "k", "v", "i"):
            continue
        path = prefix + ((kind, text),)
        paths |= decode(child, path) if isinstance(child, dict) and child else {path}
    return paths


def path_string(path: Path) -> str:
    out = []
    for kind, text in path:
        if kind == "f":
            out.append("." + text)
        elif kind == "k":
            keys = json.loads(text)
            out.append("[" + ",".join(f"{k}={canonical(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            out.append(f"[={text}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)
