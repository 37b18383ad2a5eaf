"""A tiny OpenAPI-like schema language and its walker, used by `propylon.api.validation`.

A schema is a tree of frozen nodes (`Str`, `Int`, `Bool`, `Obj`, `Arr`, `Map`, `Free`). `check`
walks a JSON value against a node and appends `FieldError`s whose `field` is the path the API
server prints (`spec.listeners[0].port`) and whose `message` reads like a real apiserver's
(`Unsupported value: "Foo": supported values: "All", "Same"`). An `Obj` rejects fields it does not
declare with `unknown=True` (strict decoding) unless it is `open`. Cross-field rules (the CRDs'
CEL validations) are plain functions attached to an `Obj` or `Arr` as `rules`; each receives the
value and its path and returns errors.

`defaults` walks the same tree and fills in the CRD defaults, so a stored object looks like it
would on a real cluster.
"""

from __future__ import annotations

import copy
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One invalid field. `message` is what the apiserver prints after `<field>: `."""

    field: str
    reason: str  # FieldValueRequired | FieldValueInvalid | FieldValueNotSupported | ...
    message: str
    unknown: bool = False


Rule = Callable[[Any, str], list[FieldError]]


def show(value: Any) -> str:
    """A value as the apiserver quotes it in messages (JSON)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {show(value)}: {detail}")


def required(path: str) -> FieldError:
    return FieldError(path, "FieldValueRequired", "Required value")


def _type_error(path: str, value: Any, want: str) -> FieldError:
    return invalid(path, _json_type(value), f"{path} in body must be of type {want}: {show(_json_type(value))}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class Node:
    """Base of schema nodes; `default` is the CRD default filled in by `defaults`."""

    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Free(Node):
    """Anything goes (metadata, status, fields this implementation does not model)."""

    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        return None


@dataclass(frozen=True)
class Str(Node):
    pattern: str | None = None
    max_len: int | None = None
    min_len: int | None = None
    enum: tuple[str, ...] = ()
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, str):
            errors.append(_type_error(path, value, "string"))
            return
        if self.enum and value not in self.enum:
            supported = ", ".join(show(e) for e in self.enum)
            errors.append(FieldError(path, "FieldValueNotSupported",
                                     f"Unsupported value: {show(value)}: supported values: {supported}"))
            return
        if self.max_len is not None and len(value) > self.max_len:
            errors.append(FieldError(path, "FieldValueTooLong",
                                     f"Too long: may not be more than {self.max_len} bytes"))
            return
        if self.min_len is not None and len(value) < self.min_len:
            errors.append(invalid(path, value, f"{path} in body should be at least {self.min_len} chars long"))
            return
        if self.pattern is not None and not re.search(self.pattern, value):
            errors.append(invalid(path, value, f"{path} in body should match '{self.pattern}'"))


@dataclass(frozen=True)
class Int(Node):
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[int, ...] = ()
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(_type_error(path, value, "integer"))
        elif self.enum and value not in self.enum:
            supported = ", ".join(str(e) for e in self.enum)
            errors.append(FieldError(path, "FieldValueNotSupported",
                                     f"Unsupported value: {value}: supported values: {supported}"))
        elif self.minimum is not None and value < self.minimum:
            errors.append(invalid(path, value, f"{path} in body should be greater than or equal to {self.minimum}"))
        elif self.maximum is not None and value > self.maximum:
            errors.append(invalid(path, value, f"{path} in body should be less than or equal to {self.maximum}"))


@dataclass(frozen=True)
class Bool(Node):
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, bool):
            errors.append(_type_error(path, value, "boolean"))


@dataclass(frozen=True)
class Obj(Node):
    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    open: bool = False  # unknown fields allowed
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, dict):
            errors.append(_type_error(path, value, "object"))
            return
        start = len(errors)
        for name in self.required:
            if value.get(name) is None:
                errors.append(required(_join(path, name)))
        for name, child in value.items():
            node = self.fields.get(name)
            if node is None:
                if not self.open:
                    errors.append(FieldError(_join(path, name), "FieldValueInvalid",
                                             f'unknown field "{_join(path, name)}"', unknown=True))
            elif child is not None:
                node.check(child, _join(path, name), errors)
        if len(errors) == start:
            for rule in self.rules:
                errors.extend(rule(value, path))


@dataclass(frozen=True)
class Map(Node):
    """An object with free keys and typed values (labels, annotations, Secret data)."""

    values: Node
    rules: tuple[Rule, ...] = ()
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, dict):
            errors.append(_type_error(path, value, "object"))
            return
        start = len(errors)
        for key, child in value.items():
            self.values.check(child, f"{path}[{key}]", errors)
        if len(errors) == start:
            for rule in self.rules:
                errors.extend(rule(value, path))


@dataclass(frozen=True)
class Arr(Node):
    items: Node
    max_items: int | None = None
    min_items: int | None = None
    keys: tuple[str, ...] = ()  # x-kubernetes-list-map-keys: entries must be unique by these
    unique: bool = False  # x-kubernetes-list-type=set
    rules: tuple[Rule, ...] = ()
    default: Any = None

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, list):
            errors.append(_type_error(path, value, "array"))
            return
        if self.max_items is not None and len(value) > self.max_items:
            errors.append(FieldError(path, "FieldValueTooMany",
                                     f"Too many: {len(value)}: must have at most {self.max_items} items"))
            return
        if self.min_items is not None and len(value) < self.min_items:
            errors.append(invalid(path, value, f"{path} in body should have at least {self.min_items} items"))
            return
        before = len(errors)
        seen: set[str] = set()
        duplicates: list[FieldError] = []
        for i, item in enumerate(value):
            self.items.check(item, f"{path}[{i}]", errors)
            identity = self._identity(item)
            if identity is not None:
                if identity in seen:
                    duplicates.append(FieldError(f"{path}[{i}]", "FieldValueDuplicate",
                                                 f"Duplicate value: {identity}"))
                seen.add(identity)
        if len(errors) == before:
            for rule in self.rules:
                errors.extend(rule(value, path))
        errors.extend(duplicates)

    def _identity(self, item: Any) -> str | None:
        if self.unique:
            return show(item)
        if self.keys and isinstance(item, dict):
            return show({k: item.get(k) for k in self.keys})
        return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check(node: Node, value: Any, path: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    node.check(value, path, errors)
    return errors


def defaults(node: Node, value: Any) -> Any:
    """`value` with every absent field that has a CRD default filled in. Copy on write: only
    the dicts and lists on the way to a filled field are new; the rest is shared with `value`,
    which is never changed (so neither may the result be)."""
    if isinstance(node, Obj) and isinstance(value, dict):
        filled: dict[str, Any] | None = None
        for name, child in _defaulted(node):
            if name in value:
                new = defaults(child, value[name])
                if new is value[name]:
                    continue
            elif child.default is not None:
                new = copy.deepcopy(child.default)
            else:
                continue
            if filled is None:
                filled = dict(value)
            filled[name] = new
        return value if filled is None else filled
    if isinstance(node, Arr) and isinstance(value, list) and _holds_defaults(node.items):
        items = [defaults(node.items, item) for item in value]
        return value if all(map(operator.is_, items, value)) else items
    return value


_PLANS: dict[int, tuple[Obj, tuple[tuple[str, Node], ...]]] = {}


def _defaulted(node: Obj) -> tuple[tuple[str, Node], ...]:
    """The fields of `node` with a default of their own or one deeper down (worked out once
    per schema node: the other fields are never walked)."""
    found = _PLANS.get(id(node))
    if found is None:
        found = _PLANS[id(node)] = (node, tuple(
            (name, child) for name, child in node.fields.items()
            if child.default is not None or _holds_defaults(child)))
    return found[1]


def _holds_defaults(node: Node) -> bool:
    if isinstance(node, Obj):
        return bool(_defaulted(node))
    if isinstance(node, Arr):
        return node.items.default is not None or _holds_defaults(node.items)
    return False


def cel(message: str, predicate: Callable[[Any], bool], where: str = "") -> Rule:
    """A CEL-like rule: when `predicate(value)` is false, report `message` on the path (plus
    `where`), with the value's JSON type, as the apiserver does for x-kubernetes-validations."""

    def rule(value: Any, path: str) -> list[FieldError]:
        if predicate(value):
            return []
        return [invalid(path + where, _json_type(value), message)]

    return rule


def each(items: Sequence[Any]) -> Sequence[dict[str, Any]]:
    """The dict entries of a list (rules ignore malformed entries: the schema reports those)."""
    return [i for i in items if isinstance(i, dict)]



def to_openapi(node: Node) -> dict[str, Any]:
    """`node` as an OpenAPI v3 (CRD structural) schema: types, properties, required fields,
    enums, patterns, lengths, item counts, list types and defaults. Rules have no OpenAPI form
    and are left out."""
    out: dict[str, Any]
    if isinstance(node, Obj):
        out = {"type": "object",
               "properties": {name: to_openapi(child) for name, child in node.fields.items()}}
        if node.required:
            out["required"] = list(node.required)
        if node.open:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(node, Map):
        out = {"type": "object", "additionalProperties": to_openapi(node.values)}
    elif isinstance(node, Arr):
        out = {"type": "array", "items": to_openapi(node.items)}
        for key, value in (("maxItems", node.max_items), ("minItems", node.min_items)):
            if value is not None:
                out[key] = value
        if node.keys:
            out.update({"x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": list(node.keys)})
        elif node.unique:
            out["x-kubernetes-list-type"] = "set"
    elif isinstance(node, Str | Int):
        out = {"type": "string" if isinstance(node, Str) else "integer"}
        bounds = (("pattern", node.pattern), ("maxLength", node.max_len),
                  ("minLength", node.min_len)) if isinstance(node, Str) else \
            (("minimum", node.minimum), ("maximum", node.maximum))
        out.update({key: value for key, value in bounds if value is not None})
        if node.enum:
            out["enum"] = list(node.enum)
    elif isinstance(node, Bool):
        out = {"type": "boolean"}
    else:
        out = {"x-kubernetes-preserve-unknown-fields": True}
    if node.default is not None:
        out["default"] = node.default
    return out
