"""Values the Gateway API schema allows and Envoy refuses, found before a route is sent.

Envoy refuses a whole route table when one route holds any of these, so each becomes a message
for the route's Accepted=False condition (UnsupportedValue), naming the value and the fix, and
the route is left out instead of taking its hostname's other routes down with it:
- `header_modifier`: a header value with a NUL, CR or LF character, or `Host` or a `:`-prefixed
  pseudo-header set, added or removed ("may not be modified"); a header name to remove must be
  non-empty and free of those characters too;
- `path`: a redirect or rewrite path with a NUL, CR or LF character;
- `retry_attempts`: more retries than Envoy's 32-bit counter holds (the schema has no maximum).
"""

from __future__ import annotations

from propylon.ir.model import HeaderModifier

MAX_RETRY_ATTEMPTS = 2**32 - 1
_CONTROL = ("\x00", "\r", "\n")


def _has_control(text: str) -> bool:
    return any(c in text for c in _CONTROL)


def _unmodifiable(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def header_modifier(modifier: HeaderModifier, filter_type: str) -> list[str]:
    """Why Envoy would refuse `modifier` (of a `filter_type` filter); [] when it would not."""
    problems: list[str] = []
    for header in (*modifier.set, *modifier.add):
        if _unmodifiable(header.name):
            problems.append(f'{filter_type} cannot set header "{header.name}" (the proxy may not '
                            "modify Host or pseudo-headers): use a URLRewrite filter's hostname "
                            "to change Host, or remove this header")
        elif _has_control(header.value):
            problems.append(f'{filter_type} value of header "{header.name}" contains a NUL, CR or '
                            "LF character, which the proxy refuses: remove it")
    for name in modifier.remove:
        if _unmodifiable(name):
            problems.append(f'{filter_type} cannot remove header "{name}" (the proxy may not '
                            "remove Host or pseudo-headers): take it out of remove")
        elif not name or _has_control(name):
            problems.append(f'{filter_type} removes header {name!r}, which is not a header name: '
                            "take it out of remove")
    return problems


def path(value: str | None, filter_type: str) -> list[str]:
    """Why Envoy would refuse `value` as the path of a `filter_type` filter."""
    if value is not None and _has_control(value):
        return [f"{filter_type} path {value!r} contains a NUL, CR or LF character, which the "
                "proxy refuses: remove it"]
    return []


def retry_attempts(attempts: int) -> list[str]:
    """Why Envoy could not take `attempts` retries."""
    if attempts > MAX_RETRY_ATTEMPTS:
        return [f"retry.attempts {attempts} is more than the proxy can count "
                f"({MAX_RETRY_ATTEMPTS}): lower it"]
    return []
