"""Server-side Table output for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; the server answers with the
kind's printer columns (from `KindInfo.columns`) already computed, one row per object. Cells follow
apiextensions: the first JSONPath match; `date` columns as a humanised age ("5m", "329d");
lists and maps in string columns as compact JSON; missing values as null. Each row carries the
object as PartialObjectMetadata (or the whole object with `includeObject=Object`), which kubectl
uses for `-A`, `--show-labels` and `-L`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import KindInfo, PrinterColumn
from propylon.jsonpath import JSONPathError, find

_NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace."}


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for a meta.k8s.io Table."""
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def human_duration(seconds: float) -> str:
    """A duration as kubectl prints ages (Kubernetes' `duration.HumanDuration`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _age(timestamp: Any, now: datetime) -> str | None:
    if not isinstance(timestamp, str):
        return None
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return human_duration((now - then).total_seconds())


def _cell(column: PrinterColumn, obj: dict[str, Any], now: datetime) -> Any:
    try:
        found = find(column.json_path, obj)
    except JSONPathError:  # a column the subset cannot evaluate prints empty, as kubectl does
        return None
    if not found or found[0] is None:
        return None
    value = found[0]
    if column.type == "date":
        return _age(value, now)
    if column.type == "string" and isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if column.type == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if column.type == "string":
        return str(value)
    return value


def column_definitions(info: KindInfo) -> list[dict[str, Any]]:
    return [_NAME_COLUMN] + [
        {"name": c.name, "type": c.type, "format": "", "description": c.description,
         "priority": c.priority} for c in info.columns]


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def to_table(info: KindInfo, objects: list[dict[str, Any]], resource_version: str,
             include_object: str = "Metadata", with_columns: bool = True,
             continue_token: str | None = None) -> dict[str, Any]:
    """A Table of `objects`; `with_columns=False` leaves columnDefinitions null (watch events
    after the first)."""
    now = datetime.now(UTC)
    rows = []
    for obj in objects:
        cells = [obj.get("metadata", {}).get("name")]
        cells += [_cell(c, obj, now) for c in info.columns]
        row: dict[str, Any] = {"cells": cells}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": column_definitions(info) if with_columns else None,
            "rows": rows}
