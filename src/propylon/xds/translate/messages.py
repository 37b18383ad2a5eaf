"""Small builders of Envoy messages shared by the xDS translators: `pack` wraps a message in a
protobuf `Any` (every typed config), `string_matcher` turns a match kind of Envoy Gateway's
API (Exact, Prefix, Suffix, RegularExpression) and its value into Envoy's `StringMatcher`.
"""

from __future__ import annotations

from envoy.type.matcher.v3.regex_pb2 import RegexMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message


def pack(message: Message) -> Any:
    """`message` as a protobuf Any (its type URL and bytes)."""
    packed = Any()
    packed.Pack(message)
    return packed


def string_matcher(kind: str, value: str) -> StringMatcher:
    """Envoy's matcher for `value` matched as `kind` (anything else: Exact)."""
    if kind == "RegularExpression":
        return StringMatcher(safe_regex=RegexMatcher(regex=value))
    if kind == "Prefix":
        return StringMatcher(prefix=value)
    if kind == "Suffix":
        return StringMatcher(suffix=value)
    return StringMatcher(exact=value)
