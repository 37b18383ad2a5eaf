"""The JSONPath subset of CRD printer columns, evaluated on the server.

Supported steps: `.field`, `[*]`, `[n]` and `[?(@.key=="value")]` (the filter may use a dotted
path after `@`). `evaluate()` returns every match in document order; printer columns use the
first. Paths outside the subset raise ValueError naming the path.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_-]+)
      | \[\*\]
      | \[(?P<index>-?\d+)\]
      | \[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_-]+)+)\s*==\s*["'](?P<fvalue>[^"']*)["']\)\]""",
    re.VERBOSE)


def _steps(path: str) -> list[re.Match[str]]:
    steps, pos = [], 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} at offset {pos}")
        steps.append(m)
        pos = m.end()
    return steps


def _get_path(value: Any, dotted: str) -> Any:
    for key in dotted.strip(".").split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def evaluate(path: str, obj: Any) -> list[Any]:
    """All values `path` selects in `obj`."""
    current = [obj]
    for step in _steps(path.strip().removeprefix("{").removesuffix("}")):
        nxt: list[Any] = []
        for value in current:
            if step.group("field") is not None:
                if isinstance(value, dict) and step.group("field") in value:
                    nxt.append(value[step.group("field")])
            elif step.group("index") is not None:
                index = int(step.group("index"))
                if isinstance(value, list) and -len(value) <= index < len(value):
                    nxt.append(value[index])
            elif step.group("fpath") is not None:
                if isinstance(value, list):
                    nxt.extend(item for item in value
                               if _get_path(item, step.group("fpath")) == step.group("fvalue"))
            elif isinstance(value, list):
                nxt.extend(value)
        current = nxt
    return current
