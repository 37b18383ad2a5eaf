"""What Envoy refuses in a header modifier, found before the route is sent.

Envoy refuses a whole route table whose route adds a header value holding a NUL, CR or LF
character, or that sets, adds or removes `Host` or a `:`-prefixed pseudo-header ("may not be
modified"); a header name to remove must also be non-empty and free of those characters. The
Gateway API schema allows all of these, so `refused(modifier, filter_type)` returns one message
per such header (naming it and the fix), for the route's Accepted=False condition: the route is
left out instead of taking its hostname's routes down with it in Envoy.
"""

from __future__ import annotations

from propylon.ir.model import HeaderModifier

_CONTROL = ("\x00", "\r", "\n")


def _unmodifiable(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def refused(modifier: HeaderModifier, filter_type: str) -> list[str]:
    """Why Envoy would refuse `modifier` (of a `filter_type` filter); [] when it would not."""
    problems: list[str] = []
    for header in (*modifier.set, *modifier.add):
        if _unmodifiable(header.name):
            problems.append(f'{filter_type} cannot set header "{header.name}" (the proxy may not '
                            "modify Host or pseudo-headers): use a URLRewrite filter's hostname "
                            "to change Host, or remove this header")
        elif any(c in header.value for c in _CONTROL):
            problems.append(f'{filter_type} value of header "{header.name}" contains a NUL, CR or '
                            "LF character, which the proxy refuses: remove it")
    for name in modifier.remove:
        if _unmodifiable(name):
            problems.append(f'{filter_type} cannot remove header "{name}" (the proxy may not '
                            "remove Host or pseudo-headers): take it out of remove")
        elif not name or any(c in name for c in _CONTROL):
            problems.append(f'{filter_type} removes header {name!r}, which is not a header name: '
                            "take it out of remove")
    return problems
