"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to the JSON object.

kubectl's typed commands (`create namespace|secret|configmap|deployment|service`, `expose`,
`run`) send built-in objects as protobuf: the 4 bytes `k8s\\0`, then a `runtime.Unknown` message
whose `typeMeta` names the apiVersion and kind and whose `raw` is the object encoded as that
kind's message (`k8s.io.api.<group>.<version>.<Kind>`, from `protoschema`). `decode()` returns the
object as the JSON kube-apiserver would store after decoding the same bytes into its Go types, so
the request then takes the path of a JSON body:

- field names are the proto names, which `go-to-protobuf` takes from the JSON tags;
- a message field that was sent is an object, `{}` when empty (Go writes non-pointer structs
  even when empty); a `Time` is RFC 3339 in seconds, a `MicroTime` in microseconds (a zero
  time is `null`, left out when `+optional`); an `IntOrString` is its number or its string; a `Quantity` its string;
  `RawExtension` and `FieldsV1` hold JSON, inlined;
- a scalar left at zero is left out when the field is `+optional` (`omitempty`), unless it is a
  pointer field whose explicit zero means something (a Deployment's `replicas: 0`);
- `bytes` are base64, lists and maps are left out when empty.

A body that is not this envelope, or names a kind without a message, is a 415 or 400 Status
naming what is wrong and the JSON alternative.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from propylon import shared_data
from propylon.apiserver import protoschema
from propylon.apiserver.errors import APIError, bad_request, unsupported_media_type

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_JSON_ALTERNATIVE = "send the object as application/json instead"


def decode(raw: bytes, schema: protoschema.Schema | None = None) -> dict[str, Any]:
    """The JSON object of a protobuf body (see the module docstring); APIError if it is not
    one."""
    schema = schema or protoschema.load()
    if schema is None:
        folder = "/".join(protoschema.PROTO_DIR)
        raise _unsupported(f"Kubernetes' protobuf definitions are missing (../shared/{folder} "
                          f"beside the repository, or ${shared_data.ENV}/{folder})")
    if not raw.startswith(MAGIC):
        raise bad_request(f"the {CONTENT_TYPE} body does not start with the 4 bytes k8s\\0 "
                          f"of a Kubernetes protobuf envelope: {_JSON_ALTERNATIVE}")
    unknown = _parse(schema, _UNKNOWN, raw[len(MAGIC):], "the envelope (runtime.Unknown)")
    api_version = unknown.typeMeta.apiVersion
    kind = unknown.typeMeta.kind
    if not kind or not api_version:
        raise bad_request("the protobuf envelope names no apiVersion and kind (typeMeta): "
                          f"{_JSON_ALTERNATIVE}")
    if unknown.contentEncoding:
        raise _unsupported(f"the protobuf envelope's contentEncoding "
                          f"{unknown.contentEncoding!r} is not supported")
    name = message_name(api_version, kind)
    if schema.message(name) is None:
        raise _unsupported(f"{kind} ({api_version}) has no protobuf message {name}")
    obj = _parse(schema, name, unknown.raw, f"the {kind} in the envelope")
    return {"apiVersion": api_version, "kind": kind, **to_json(obj, schema)}


def _unsupported(reason: str) -> APIError:
    err = unsupported_media_type(CONTENT_TYPE, ["application/json", "application/yaml"])
    err.message += f": {reason}; {_JSON_ALTERNATIVE}"
    return err


def message_name(api_version: str, kind: str) -> str:
    """The proto message of a kind: `apps/v1` `Deployment` -> `k8s.io.api.apps.v1.Deployment`
    (the package is the group's first label, `core` for the core group)."""
    group, _, version = api_version.rpartition("/")
    return f"k8s.io.api.{group.split('.')[0] if group else 'core'}.{version}.{kind}"


def _parse(schema: protoschema.Schema, name: str, data: bytes, what: str) -> Message:
    cls = schema.message(name)
    if cls is None:
        raise _unsupported(f"the protobuf definitions have no message {name}")
    message = cls()
    try:
        message.ParseFromString(data)
    except DecodeError as err:
        raise bad_request(f"{what} is not a valid {name} protobuf message ({err}): "
                          f"{_JSON_ALTERNATIVE}") from err
    return message


def to_json(message: Message, schema: protoschema.Schema) -> dict[str, Any]:
    """The JSON object of one message, as Go's encoding of the same Kubernetes type."""
    out: dict[str, Any] = {}
    name = message.DESCRIPTOR.full_name
    for field, value in message.ListFields():
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                entry = field.message_type.fields_by_name["value"]
                out[field.name] = {k: _value(entry, v, schema) for k, v in value.items()}
            else:
                out[field.name] = [_value(field, v, schema) for v in value]
        else:
            converted = _value(field, value, schema)
            if converted is not None and (field.type == FieldDescriptor.TYPE_MESSAGE or value) \
                    or _keeps_zero(schema, name, field.name, converted):
                out[field.name] = converted
    return out


def _keeps_zero(schema: protoschema.Schema, message: str, field: str, value: Any) -> bool:
    """Whether Go writes the zero `value` of a field into JSON: yes without `omitempty`, and
    for a pointer field unless it is nil (a zero time is `null`, left out with `omitempty`)."""
    notes = schema.notes.get((message, field))
    if notes is None or not notes.omitempty:
        return True
    return notes.pointer and value is not None


def _value(field: FieldDescriptor, value: Any, schema: protoschema.Schema) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return value
    special = field.message_type.full_name
    if special == f"{_META}.Time":
        return _time(value, "%Y-%m-%dT%H:%M:%SZ")
    if special == f"{_META}.MicroTime":
        return _time(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    if special == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return value.strVal if value.type == 1 else value.intVal
    if special in ("k8s.io.apimachinery.pkg.api.resource.Quantity",
                   "k8s.io.apimachinery.pkg.api.resource.QuantityValue"):
        return value.string
    if special == "k8s.io.apimachinery.pkg.runtime.RawExtension":
        return _inline_json(value.raw, field)
    if special == f"{_META}.FieldsV1":
        return _inline_json(value.Raw, field)
    return to_json(value, schema)


def _time(value: Any, layout: str) -> str | None:
    if not value.seconds and not value.nanos:
        return None  # Go's zero time
    stamp = datetime.fromtimestamp(value.seconds, UTC).replace(microsecond=value.nanos // 1000)
    return stamp.strftime(layout)


def _inline_json(raw: bytes, field: FieldDescriptor) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise bad_request(f"field {field.name} ({field.message_type.name}) holds no JSON "
                          f"({err}): {_JSON_ALTERNATIVE}") from err
