"""Server-side Table output for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; the server answers with the
kind's printer columns already computed, one row per object. The built-in kinds that
kube-apiserver prints with code of its own (Pods, Services, Deployments, ...) get the columns and
cells of `printers.py`; the others (the CRDs) their JSONPath columns (`KindInfo.columns`), whose
cells follow apiextensions: the first JSONPath match; `date` columns as a humanised age ("5m",
"329d"); lists and maps in string columns as compact JSON; missing values as null. Each row
carries the object as PartialObjectMetadata (or the whole object with `includeObject=Object`), which kubectl
uses for `-A`, `--show-labels` and `-L`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from propylon.api.kinds import KindInfo, PrinterColumn
from propylon.apiserver.printers import NAME, Printer, age, printer_for
from propylon.jsonpath import JSONPathError, find


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for a meta.k8s.io Table."""
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def _cell(column: PrinterColumn, obj: dict[str, Any], now: datetime) -> Any:
    try:
        found = find(column.json_path, obj)
    except JSONPathError:  # a column the subset cannot evaluate prints empty, as kubectl does
        return None
    if not found or found[0] is None:
        return None
    value = found[0]
    if column.type == "date":
        return age(value, now)
    if column.type == "string" and isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if column.type == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if column.type == "string":
        return str(value)
    return value


def _cells(info: KindInfo, printer: Printer | None, obj: dict[str, Any],
           now: datetime) -> list[Any]:
    if printer is not None:
        return printer.cells(obj, now)
    return [obj.get("metadata", {}).get("name")] + [_cell(c, obj, now) for c in info.columns]


def column_definitions(info: KindInfo) -> list[dict[str, Any]]:
    printer = printer_for(info.group, info.kind)
    if printer is not None:
        return [c.definition() for c in printer.columns]
    return [NAME.definition()] + [
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
    printer = printer_for(info.group, info.kind)
    for obj in objects:
        row: dict[str, Any] = {"cells": _cells(info, printer, obj, now)}
        if printer is not None and printer.conditions is not None:
            if conditions := printer.conditions(obj):
                row["conditions"] = conditions
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
