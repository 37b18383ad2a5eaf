"""Kubernetes' `generated.proto` files, read at run time into protobuf message classes.

kubectl sends built-in objects as protobuf (`protobody`), encoded from the messages that
`go-to-protobuf` writes into each API package's `generated.proto`. Those files lie in
`../shared/kubernetes/proto` (`propylon.shared_data`; `$PROPYLON_SHARED` moves it), under their Go
import paths. They use a small subset of proto2: `package`, `import`, `option`, and top-level
messages of `optional`, `repeated` and `map<K, V>` fields. `parse()` reads that subset (anything
else is an error naming the file and the token) into `FileDescriptorProto`s, keeping from each
field's comment what Go's JSON encoding depends on and protobuf does not carry:

- `+optional` marks a field whose Go JSON tag has `omitempty` (Kubernetes' API conventions), so a
  zero value is left out of the JSON;
- "a pointer to distinguish between explicit zero" marks a Go pointer field, whose zero is kept.

`Schema` adds every file to one `DescriptorPool` and hands out message classes by full name.
`load()` builds it once per process from the shared folder; None when the folder is missing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from propylon.shared_data import shared_path

PROTO_DIR = ("kubernetes", "proto")

_F = descriptor_pb2.FieldDescriptorProto
SCALARS = {"string": _F.TYPE_STRING, "bool": _F.TYPE_BOOL, "bytes": _F.TYPE_BYTES,
           "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32,
           "uint64": _F.TYPE_UINT64, "double": _F.TYPE_DOUBLE, "float": _F.TYPE_FLOAT}
_TOKEN = re.compile(r'\s+|//([^\n]*)|/\*.*?\*/|("[^"]*"|[A-Za-z_.][\w.]*|\d+|[{}<>=;,])', re.S)
_POINTER = "pointer to distinguish between explicit"


class ProtoSyntaxError(ValueError):
    """A `.proto` file outside the subset `parse()` reads."""


@dataclass(frozen=True)
class FieldNotes:
    """What a field's comment says about its Go JSON encoding."""

    omitempty: bool  # `+optional`: a zero value is left out
    pointer: bool  # a Go pointer: a zero value that was sent is kept


@dataclass
class ProtoFile:
    """One parsed file: its descriptor, its imports and the notes of its fields."""

    descriptor: descriptor_pb2.FileDescriptorProto
    notes: dict[tuple[str, str], FieldNotes] = field(default_factory=dict)  # (message, field)


def _tokens(text: str, name: str) -> list[tuple[str, str]]:
    """(token, the comment lines just before it) for every token of `text`."""
    out: list[tuple[str, str]] = []
    comment: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ProtoSyntaxError(f"{name}: unexpected character {text[pos]!r} at offset {pos}")
        pos = match.end()
        if match.group(1) is not None:
            comment.append(match.group(1).strip())
        elif match.group(2) is not None:
            out.append((match.group(2), " ".join(comment)))
            comment = []
        elif "\n\n" in match.group(0):  # a blank line detaches a comment from what follows
            comment = []
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], name: str) -> None:
        self.tokens, self.name, self.pos = tokens, name, 0

    def peek(self) -> str:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else ""

    def comment(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise ProtoSyntaxError(f"{self.name}: expected {expected or 'a token'}, found "
                                   f"{token or 'the end of the file'!r} (token {self.pos})")
        self.pos += 1
        return token

    def until(self, end: str) -> list[str]:
        taken = []
        while self.peek() != end:
            taken.append(self.take())
        self.take(end)
        return taken


def parse(text: str, name: str) -> ProtoFile:
    """One `generated.proto`, its type names left as written (`Schema` resolves them)."""
    reader = _Reader(_tokens(text, name), name)
    proto = ProtoFile(descriptor_pb2.FileDescriptorProto(name=name, syntax="proto2"))
    while reader.peek():
        keyword = reader.take()
        if keyword == "syntax":
            reader.until(";")
        elif keyword == "package":
            proto.descriptor.package = reader.take()
            reader.take(";")
        elif keyword == "import":
            proto.descriptor.dependency.append(reader.take().strip('"'))
            reader.take(";")
        elif keyword == "option":
            reader.until(";")
        elif keyword == "message":
            _message(reader, proto)
        else:
            raise ProtoSyntaxError(f"{name}: unsupported top-level statement {keyword!r}")
    return proto


def _message(reader: _Reader, proto: ProtoFile) -> None:
    message = proto.descriptor.message_type.add(name=reader.take())
    reader.take("{")
    while reader.peek() != "}":
        comment = reader.comment()
        label = reader.take()
        if label == "map":
            reader.take("<")
            parts = reader.until(">")
            if len(parts) != 3 or parts[1] != ",":
                raise ProtoSyntaxError(f"{reader.name}: malformed map<{''.join(parts)}> in "
                                       f"message {message.name}")
            key, _, value = parts
            entry = message.nested_type.add(name=_entry_name(reader.peek()))
            entry.options.map_entry = True
            _add_field(entry, "key", 1, _F.LABEL_OPTIONAL, key)
            _add_field(entry, "value", 2, _F.LABEL_OPTIONAL, value)
            type_name = f".{proto.descriptor.package}.{message.name}.{entry.name}"
            field_label = _F.LABEL_REPEATED
        elif label in ("optional", "repeated"):
            type_name = reader.take()
            field_label = _F.LABEL_OPTIONAL if label == "optional" else _F.LABEL_REPEATED
        else:
            raise ProtoSyntaxError(f"{reader.name}: unsupported field label {label!r} in "
                                   f"message {message.name}")
        field_name = reader.take()
        reader.take("=")
        number = int(reader.take())
        reader.take(";")
        _add_field(message, field_name, number, field_label, type_name)
        proto.notes[(message.name, field_name)] = FieldNotes(
            "+optional" in comment, _POINTER in comment)
    reader.take("}")


def _entry_name(field_name: str) -> str:
    return field_name[:1].upper() + field_name[1:] + "Entry"


def _add_field(message: descriptor_pb2.DescriptorProto, name: str, number: int, label: int,
               type_name: str) -> None:
    added = message.field.add(name=name, number=number, label=label, json_name=name)
    if type_name in SCALARS:
        added.type = SCALARS[type_name]
    else:
        added.type = _F.TYPE_MESSAGE
        added.type_name = type_name


class Schema:
    """The messages of a set of parsed files, resolved and loaded into one pool."""

    def __init__(self, files: list[ProtoFile]) -> None:
        self.notes: dict[tuple[str, str], FieldNotes] = {}
        known = {f"{p.descriptor.package}.{m.name}" for p in files
                 for m in p.descriptor.message_type}
        self.pool = descriptor_pool.DescriptorPool()
        for proto in files:
            package = proto.descriptor.package
            for message in proto.descriptor.message_type:
                for added in [*message.field, *(f for e in message.nested_type for f in e.field)]:
                    if added.type == _F.TYPE_MESSAGE:
                        added.type_name = _resolve(added.type_name, package, message.name, known)
            self.notes.update({(f"{package}.{m}", f): n for (m, f), n in proto.notes.items()})
        for proto in _dependency_order(files):
            self.pool.Add(proto.descriptor)

    def message(self, full_name: str) -> type[Message] | None:
        """The class of message `full_name` (`k8s.io.api.core.v1.Secret`), None if unknown."""
        try:
            descriptor = self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            return None
        cls: type[Message] = message_factory.GetMessageClass(descriptor)
        return cls


def _resolve(type_name: str, package: str, message: str, known: set[str]) -> str:
    if type_name.startswith("."):
        return type_name
    for candidate in (f"{package}.{type_name}", type_name):
        if candidate in known:
            return "." + candidate
    raise ProtoSyntaxError(f"message {package}.{message}: unknown type {type_name!r}")


def _dependency_order(files: list[ProtoFile]) -> list[ProtoFile]:
    """`files` with each one after the files it imports (imports missing from `files` are an
    error when the pool resolves them)."""
    by_name = {p.descriptor.name: p for p in files}
    ordered: list[ProtoFile] = []
    seen: set[str] = set()

    def visit(proto: ProtoFile) -> None:
        if proto.descriptor.name in seen:
            return
        seen.add(proto.descriptor.name)
        for dependency in proto.descriptor.dependency:
            if dependency in by_name:
                visit(by_name[dependency])
        ordered.append(proto)

    for proto in files:
        visit(proto)
    return ordered


def read(root: Path) -> Schema:
    """Every `generated.proto` under `root`, named by its path relative to `root`."""
    return Schema([parse(path.read_text(), path.relative_to(root).as_posix())
                   for path in sorted(root.rglob("generated.proto"))])


@functools.cache
def load() -> Schema | None:
    """The schema of `../shared/kubernetes/proto`, read once; None when it is missing."""
    root = shared_path(*PROTO_DIR)
    return read(root) if root is not None else None
