"""Printing a server-side `Table` (meta.k8s.io/v1) the way `kubectl get` does.

The API server computes the cells (printer columns, AGE); kubectl only lays them out. This module
does the same: column names upper-cased, columns with priority > 0 only with `-o wide`, a
NAMESPACE column first for `-A` (taken from each row's object metadata), a cell cut at its first
line break (with `...`), null cells empty, and columns aligned as Go's tabwriter aligns them with
kubectl's settings: each column but the last padded to max(6, widest cell + 3).
"""

from __future__ import annotations

from typing import Any

_MIN_WIDTH = 6
_PADDING = 3


def format_table(table: dict[str, Any], wide: bool = False, with_namespace: bool = False) -> str:
    """The text kubectl prints for `table` (one line per row plus a header; "" when no rows)."""
    rows = table.get("rows") or []
    if not rows:
        return ""
    columns = [(i, c) for i, c in enumerate(table.get("columnDefinitions") or [])
               if wide or not c.get("priority")]
    lines: list[list[str]] = [[str(c.get("name", "")).upper() for _, c in columns]]
    for row in rows:
        cells = row.get("cells") or []
        lines.append([_cell(cells[i]) if i < len(cells) else "" for i, _ in columns])
    if with_namespace:
        lines[0].insert(0, "NAMESPACE")
        for line, row in zip(lines[1:], rows, strict=True):
            metadata = (row.get("object") or {}).get("metadata") or {}
            line.insert(0, str(metadata.get("namespace", "")))
    return align(lines)


def align(lines: list[list[str]]) -> str:
    """Lay out cells in columns like Go's tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)."""
    count = max((len(line) for line in lines), default=0)
    widths = [max([_MIN_WIDTH] + [len(line[i]) + _PADDING for line in lines if i < len(line) - 1])
              for i in range(count)]
    out = []
    for line in lines:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + line[-1:]
        out.append("".join(padded) + "\n")
    return "".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    cut = min((i for i in (text.find(c) for c in "\f\n\r") if i >= 0), default=-1)
    return text[:cut] + "..." if cut >= 0 else text
