"""Validation of every object before it is stored.

Two layers run on the object a write would store (for a patch: the patched result, never the
patch body): the generic checks any API server makes on metadata (`objectmeta`: name, labels,
annotations and their total size), then the optional `validator(obj)` that returns field
errors. Errors are duck-typed (`.field`, `.reason`, `.message`, `.unknown`), so any validator with
that shape works, `propylon.api.validation.validate` by default.

Unknown fields (`unknown=True`, and fields `metadata` does not have) are never stored: they are
pruned from the object, and the request's `fieldValidation` says what the client hears: `Strict`
rejects with 400 `strict decoding error: unknown field "spec.x"` (prefixed with `<Kind> in version
"<v>" cannot be handled as a <Kind>: ` on a create or update), `Warn` (kube-apiserver's
default) returns warnings for the `Warning` header, `Ignore` says nothing. Every other error is a
422 Invalid with `details.causes`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from propylon.api.kinds import KindInfo
from propylon.apiserver.errors import StrictDecodingError, bad_request, invalid
from propylon.apiserver.objectmeta import meta_causes, unknown_meta_fields

Validator = Callable[[dict[str, Any]], list[Any]]

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def default_validator() -> Validator | None:
    """`propylon.api.validation.validate`, when that module exists."""
    try:
        module = importlib.import_module("propylon.api.validation")
    except ModuleNotFoundError as err:
        if err.name not in ("propylon.api.validation", "propylon.api"):
            raise
        return None
    validate: Validator = module.validate
    return validate


def field_validation(query: dict[str, str]) -> str:
    """The request's `fieldValidation` (Warn when absent); 400 for anything else."""
    value = query.get("fieldValidation") or "Warn"
    if value not in FIELD_VALIDATION:
        raise bad_request(f'invalid fieldValidation "{value}": use one of '
                          + ", ".join(FIELD_VALIDATION))
    return value


def admit(info: KindInfo, obj: dict[str, Any], validator: Validator | None,
          validation: str, old: dict[str, Any] | None = None) -> list[str]:
    """Check `obj` and prune its unknown fields (in place, whatever `validation` says: they are
    never stored); returns warnings for the response, raises APIError when it is refused.
    Unknown fields that the live object `old` already had (stored before they were pruned) are
    pruned without failing a Strict request, which did not send them."""
    causes = meta_causes(info, obj)
    warnings = prune_unknown(obj, validator, validation, old, causes)
    if causes:
        raise invalid(info, str(obj.get("metadata", {}).get("name") or ""), causes)
    return warnings


def prune_unknown(obj: dict[str, Any], validator: Validator | None, validation: str,
                  old: dict[str, Any] | None = None,
                  causes: list[dict[str, str]] | None = None) -> list[str]:
    """Prune `obj`'s unknown fields in place as `admit` does (Strict raises for those `old` did
    not have); returns the warnings. A server-side apply prunes its applied configuration with it
    before merging, so that no manager ever owns a field that is not stored; its other errors
    (a partial configuration lacks required fields) go to `causes` when given."""
    unknown = unknown_fields(obj, validator, [] if causes is None else causes)
    if unknown and validation == "Strict":
        stale = set(unknown_fields(old, validator, [])) if old is not None else set()
        sent = [f for f in unknown if f not in stale]
        if sent:
            raise StrictDecodingError([f'unknown field "{f}"' for f in sent])
    for path in unknown:
        prune(obj, path)
    return [f'unknown field "{f}"' for f in unknown] if validation == "Warn" else []


def unknown_fields(obj: dict[str, Any], validator: Validator | None,
                   causes: list[dict[str, str]]) -> list[str]:
    """The paths of `obj`'s unknown fields; its other validation errors go to `causes`."""
    unknown = unknown_meta_fields(obj)
    for error in (validator(obj) if validator is not None else []):
        if getattr(error, "unknown", False):
            unknown.append(error.field)
        else:
            causes.append({"reason": error.reason, "field": error.field,
                           "message": error.message})
    return unknown


_INDEX = re.compile(r"\[(\d+)\]")


def prune(obj: Any, path: str) -> None:
    """Remove the field at `path`, written as field errors write it (`spec.rules[0].foo`, a map
    key in brackets: `data[a.b]`); nothing happens when it is not there. Object keys may hold
    dots, so at each level the longest key that `path` continues with is taken."""
    node, rest = obj, path
    while rest:
        if isinstance(node, list):
            match = _INDEX.match(rest)
            if match is None or int(match[1]) >= len(node):
                return
            node, rest = node[int(match[1])], rest[match.end():].removeprefix(".")
            continue
        if not isinstance(node, dict):
            return
        if rest.startswith("["):
            keys = [k for k in node if rest.startswith(f"[{k}]")]
            width = 2
        else:
            keys = [k for k in node if rest.startswith(k)
                    and (len(rest) == len(k) or rest[len(k)] in ".[")]
            width = 0
        if not keys:
            return
        key = max(keys, key=len)
        rest = rest[len(key) + width:]
        if not rest:
            del node[key]
            return
        node, rest = node[key], rest.removeprefix(".")
