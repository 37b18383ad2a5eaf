"""Header values as the Gateway API and Envoy Gateway define them: literal.

Envoy reads `%` in a value it adds as the start of a substitution (`%START_TIME%`,
`%REQ(...)%`) and refuses a value with a lone `%` ("100%"), so every `%` is written `%%`
(`literal`); `header_options` are a modifier's set (overwriting) and add (appending) values.
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption

from propylon.ir import model as ir


def literal(value: str) -> str:
    """A header value Envoy adds as written: no `%` substitution."""
    return value.replace("%", "%%")


def header_options(modifier: ir.HeaderModifier) -> list[HeaderValueOption]:
    overwrite = HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    append = HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
    return [
        *(HeaderValueOption(header=HeaderValue(key=h.name, value=literal(h.value)),
                            append_action=action)
          for headers, action in ((modifier.set, overwrite), (modifier.add, append))
          for h in headers),
    ]
