"""Mutations of the `steps` of a case: patch, delete, create, written structured or as text.

A structured `patch` (a mapping) is merged into the live object as a JSON merge patch
(`propylon.api.mergepatch`: mappings merge, anything else replaces, null deletes). Two textual
forms of the case files are understood: `PATH = VALUE` (a dotted path with `[i]` indexes; a
key containing dots such as `data.ca.crt` is matched against the keys that exist; the value is
YAML), `append listener {...}` (a YAML flow mapping whose dotted keys are nested) and
`remove PATH` (drop that list item or key). Anything else raises `Unsupported`, which the
runner reports as a skip with the text. The object is read, changed and written back with a
replace (an update of the whole object).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from propylon.api.mergepatch import merge_patch

_ASSIGN = re.compile(r"^\s*([A-Za-z][\w.\[\]-]*)\s*=\s*(.+?)\s*$")
_APPEND_LISTENER = re.compile(r"^\s*append listener\s*(\{.*\})\s*$", re.S)
_REMOVE = re.compile(r"^\s*remove\s+([A-Za-z][\w.\[\]-]*)\s*$")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Unsupported(Exception):
    """A step the runner cannot interpret."""


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, last = str(key).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _remove(obj: dict[str, Any], path: str) -> None:
    segments = [(m.group(1), m.group(2)) for m in _SEGMENT.finditer(path)]
    node: Any = obj
    for key, index in segments[:-1]:
        node = node[int(index)] if index is not None else node[key]
    key, index = segments[-1]
    del node[int(index) if index is not None else key]


def _assign(obj: dict[str, Any], path: str, value: Any) -> None:
    segments = [(m.group(1), m.group(2)) for m in _SEGMENT.finditer(path)]
    node: Any = obj
    i = 0
    while i < len(segments):
        key, index = segments[i]
        last = i == len(segments) - 1
        if index is not None:
            if last:
                node[int(index)] = value
                return
            node = node[int(index)]
            i += 1
            continue
        # a key may itself contain dots (data.ca.crt): take the longest existing one
        j = len(segments)
        while j > i + 1:
            names = [k for k, idx in segments[i:j]]
            if all(idx is None for _, idx in segments[i:j]) and ".".join(names) in node:
                break
            j -= 1
        key = ".".join(k for k, _ in segments[i:j])
        if j == len(segments):
            node[key] = value
            return
        node = node.setdefault(key, {})
        i = j


def apply_text(obj: dict[str, Any], text: str) -> None:
    """Apply one textual patch to obj in place; Unsupported if the text is not understood."""
    append = _APPEND_LISTENER.match(text)
    if append:
        listener = yaml.safe_load(append.group(1))
        obj.setdefault("spec", {}).setdefault("listeners", []).append(_nest(listener))
        return
    remove = _REMOVE.match(text)
    if remove:
        try:
            _remove(obj, remove.group(1))
        except (KeyError, IndexError, TypeError) as err:
            raise Unsupported(f"patch {text!r}: nothing at that path ({err})") from None
        return
    assign = _ASSIGN.match(text)
    if assign:
        _assign(obj, assign.group(1), yaml.safe_load(assign.group(2)))
        return
    raise Unsupported(f"patch not understood: {text!r}")


def apply_patch(obj: dict[str, Any], patch: Any) -> None:
    if isinstance(patch, Mapping):
        merged = merge_patch(obj, dict(patch))
        obj.clear()
        obj.update(merged)
    elif isinstance(patch, str):
        apply_text(obj, patch)
    else:
        raise Unsupported(f"patch not understood: {patch!r}")
