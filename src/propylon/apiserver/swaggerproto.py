"""The Swagger 2.0 document as the protobuf kubectl asks for (`openapi.v2.Document` of gnostic).

kubectl fetches `/openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+
protobuf` only (for `kubectl explain --output plaintext-openapiv2`, and for patches and
client-side validation when v3 fails) and decodes the body as gnostic's `OpenAPIv2.proto`.
`encode(doc)` writes the JSON document `openapi.swagger_document` builds in that wire format,
by hand: the message layouts below are the subset of gnostic's that such a document uses (field
numbers from OpenAPIv2.proto). Vendor extensions (`x-kubernetes-*`), defaults, enums and
examples travel as YAML text (`Any.yaml`), which JSON is.
"""

from __future__ import annotations

import json
import struct
from typing import Any

ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what kubectl asks
# what kube-apiserver answers: Go's MIME parser refuses the "@" of the requested type
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

_VARINT, _FIXED64, _BYTES = 0, 1, 2

# Schema fields by JSON name: (field number, kind)
_SCHEMA_FIELDS: dict[str, tuple[int, str]] = {
    "$ref": (1, "str"), "format": (2, "str"), "title": (3, "str"), "description": (4, "str"),
    "default": (5, "any"), "multipleOf": (6, "double"), "maximum": (7, "double"),
    "exclusiveMaximum": (8, "bool"), "minimum": (9, "double"), "exclusiveMinimum": (10, "bool"),
    "maxLength": (11, "int"), "minLength": (12, "int"), "pattern": (13, "str"),
    "maxItems": (14, "int"), "minItems": (15, "int"), "uniqueItems": (16, "bool"),
    "maxProperties": (17, "int"), "minProperties": (18, "int"), "required": (19, "strings"),
    "enum": (20, "anys"), "discriminator": (26, "str"), "readOnly": (27, "bool"),
    "example": (30, "any"),
}
# QueryParameterSubSchema (non-body parameter 3) and PathParameterSubSchema (4) fields
_PARAMETER_FIELDS = {"query": (3, {"required": 1, "in": 2, "description": 3, "name": 4,
                                   "type": 6, "uniqueItems": 20}),
                     "path": (4, {"required": 1, "in": 2, "description": 3, "name": 4,
                                  "type": 5, "uniqueItems": 19})}
_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, _BYTES) + _varint(len(payload)) + payload


def _str(number: int, value: str) -> bytes:
    return _bytes(number, value.encode())


def _bool(number: int, value: bool) -> bytes:
    return _key(number, _VARINT) + _varint(int(value)) if value else b""


def _scalar(number: int, kind: str, value: Any) -> bytes:
    if kind == "str":
        return _str(number, str(value))
    if kind == "bool":
        return _bool(number, bool(value))
    if kind == "int":
        return _key(number, _VARINT) + _varint(int(value))
    if kind == "double":
        return _key(number, _FIXED64) + struct.pack("<d", float(value))
    if kind == "any":
        return _bytes(number, _any(value))
    if kind == "strings":
        return b"".join(_str(number, str(v)) for v in value)
    return b"".join(_bytes(number, _any(v)) for v in value)  # "anys"


def _any(value: Any) -> bytes:
    """gnostic's `Any`: the value as YAML text (field 2)."""
    return _str(2, json.dumps(value))


def _named_any(number: int, name: str, value: Any) -> bytes:
    return _bytes(number, _str(1, name) + _bytes(2, _any(value)))


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    return b"".join(_named_any(number, k, v) for k, v in node.items() if k.startswith("x-"))


def _schema(node: dict[str, Any]) -> bytes:
    """An `openapi.v2.Schema`."""
    out = bytearray()
    for name, value in node.items():
        field = _SCHEMA_FIELDS.get(name)
        if field is not None:
            out += _scalar(field[0], field[1], value)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, _schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _key(2, _VARINT) + _varint(int(extra)))
    types = node.get("type")
    if types is not None:
        out += _bytes(22, b"".join(_str(1, t) for t in
                                   (types if isinstance(types, list) else [types])))
    items = node.get("items")
    if isinstance(items, dict):
        out += _bytes(23, _bytes(1, _schema(items)))
    for part in node.get("allOf") or ():
        out += _bytes(24, _schema(part))
    properties = node.get("properties")
    if isinstance(properties, dict):
        out += _bytes(25, b"".join(_bytes(1, _str(1, k) + _bytes(2, _schema(v)))
                                   for k, v in properties.items()))
    out += _extensions(31, node)
    return bytes(out)


def _parameter(param: dict[str, Any]) -> bytes:
    if param.get("in") == "body":
        body = (_str(2, param["name"]) + _str(3, "body") + _bool(4, param.get("required", False))
                + _bytes(5, _schema(param.get("schema") or {})))
        return _bytes(1, _bytes(1, body))  # ParametersItem.parameter.body_parameter
    number, fields = _PARAMETER_FIELDS[param.get("in", "query")]
    sub = bytearray()
    for name, value in param.items():
        if name in fields:
            sub += _bool(fields[name], value) if isinstance(value, bool) \
                else _str(fields[name], str(value))
    # ParametersItem.parameter.non_body_parameter.<query|path>_parameter_sub_schema
    return _bytes(1, _bytes(2, _bytes(number, bytes(sub))))


def _operation(op: dict[str, Any]) -> bytes:
    out = bytearray(_str(5, op.get("operationId", "")))
    out += b"".join(_str(7, c) for c in op.get("consumes") or ())
    out += b"".join(_bytes(8, _parameter(p)) for p in op.get("parameters") or ())
    responses = b""
    for code, response in (op.get("responses") or {}).items():
        body = _str(1, response.get("description", ""))
        if "schema" in response:
            body += _bytes(2, _bytes(1, _schema(response["schema"])))
        responses += _bytes(1, _str(1, code) + _bytes(2, _bytes(1, body)))
    out += _bytes(9, responses)
    out += _extensions(13, op)
    return bytes(out)


def encode(doc: dict[str, Any]) -> bytes:
    """An `openapi.v2.Document` of a Swagger 2.0 document (see the module docstring)."""
    info = doc.get("info") or {}
    out = bytearray(_str(1, doc.get("swagger", "2.0")))
    out += _bytes(2, _str(1, info.get("title", "")) + _str(2, info.get("version", "")))
    paths = b"".join(
        _bytes(2, _str(1, path) + _bytes(2, b"".join(
            _bytes(_METHODS[method], _operation(op)) for method, op in item.items()
            if method in _METHODS)))
        for path, item in (doc.get("paths") or {}).items())
    out += _bytes(8, paths)
    out += _bytes(9, b"".join(_bytes(1, _str(1, name) + _bytes(2, _schema(definition)))
                              for name, definition in (doc.get("definitions") or {}).items()))
    return bytes(out)
