"""A Lua script checked before it reaches Envoy, which refuses a whole listener over a script
that does not compile.

`problem(code)` is None for a script that passes, else a message with the line of the first
error. The check reads Lua 5.1's tokens (names, numbers, short and long strings, comments;
in a short string, only the escapes Envoy's LuaJIT takes: `\\a` ... `\\v`, quotes, a backslash, a
newline, `\\z`, `\\xXX`, `\\u{X...}` of a Unicode scalar value, decimal `\\ddd` up to 255) and
its block structure: every `function`, `if`, `do`, `while ... do`, `for ... do` closed by `end`,
every `repeat` by `until`, `then` after `if`/`elseif`, `do` after `while`/`for`, brackets
balanced; then, as Envoy Gateway's strict validation requires, the script must define
`envoy_on_request` or `envoy_on_response`. It does not type-check expressions: a script it
passes that Envoy still refuses is caught by Envoy's NACK, which the status reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--(?!\[=*\[)[^\n]*)
  | (?P<long>(?:--)?\[(?P<eq>=*)\[)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<quote>["'])
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|::|[-+*/%^#<>=(){}\[\];:,.])
""", re.VERBOSE)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_ESCAPE = re.compile(r"""\\(?:[abfnrtv\\"'\n]|\r\n?|z\s*|x[0-9A-Fa-f]{2}|u\{(?P<u>[0-9A-Fa-f]+)\}
                     |(?P<d>[0-9]{1,3}))""", re.VERBOSE)
_ENTRY = re.compile(r"\bfunction\s+envoy_on_(request|response)\s*\(|"
                    r"\benvoy_on_(request|response)\s*=\s*function\b")


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "number", "string", "op"
    text: str
    line: int


class _Error(Exception):
    pass


def _tokens(code: str) -> list[_Token]:
    out: list[_Token] = []
    pos, line = 0, 1
    while pos < len(code):
        found = _TOKEN.match(code, pos)
        if found is None:
            raise _Error(f"line {line}: unexpected symbol {code[pos]!r}")
        kind = "long" if found.group("long") is not None else found.lastgroup
        end = found.end()
        if kind == "long":
            close = "]" + found.group("eq") + "]"
            stop = code.find(close, end)
            if stop < 0:
                what = "comment" if found.group("long").startswith("--") else "string"
                raise _Error(f"line {line}: unfinished long {what} (no {close!r})")
            end = stop + len(close)
            if not found.group("long").startswith("--"):
                out.append(_Token("string", code[pos:end], line))
        elif kind == "quote":
            end = _string_end(code, end, found.group("quote"), line)
            out.append(_Token("string", code[pos:end], line))
        elif kind in ("name", "number", "op"):
            out.append(_Token(str(kind), found.group(), line))
        line += code.count("\n", pos, end)
        pos = end
    return out


def _string_end(code: str, pos: int, quote: str, line: int) -> int:
    while pos < len(code):
        char = code[pos]
        if char == "\\":
            found = _ESCAPE.match(code, pos)
            if found is None or not _escape_value_ok(found):
                raise _Error(f"line {line}: invalid escape sequence {code[pos:pos + 2]} in a "
                             "string (write a backslash as \\\\)")
            line += found.group().count("\n")
            pos = found.end()
            continue
        if char == "\n":
            break
        if char == quote:
            return pos + 1
        pos += 1
    raise _Error(f"line {line}: unfinished string (no closing {quote})")


def _escape_value_ok(escape: re.Match[str]) -> bool:
    if escape.group("d") is not None:
        return int(escape.group("d")) <= 255
    if escape.group("u") is not None:
        value = int(escape.group("u"), 16)
        return value < 0x110000 and not 0xD800 <= value < 0xE000
    return True


def _blocks(tokens: list[_Token]) -> None:
    stack: list[_Token] = []  # open blocks and brackets
    for token in tokens:
        text = token.text if token.kind in ("name", "op") else ""
        top = stack[-1].text if stack else ""
        if text in ("function", "if", "while", "for", "repeat") or text in _OPEN \
                or (text == "do" and top not in ("while", "for")):
            stack.append(token)
        elif text == "do":  # `while ... do`, `for ... do`: the loop's body
            stack[-1] = _Token("name", "do", stack[-1].line)
        elif text in ("then", "elseif", "else"):
            if top not in ("if", "then"):
                raise _Error(f"line {token.line}: unexpected {text!r}")
            stack[-1] = _Token("name", "if" if text == "elseif" else "then", stack[-1].line)
        elif text in ("end", "until") or text in _OPEN.values():
            wanted = {"end": ("function", "then", "do"), "until": ("repeat",)}.get(
                text, tuple(o for o, c in _OPEN.items() if c == text))
            if top not in wanted:
                raise _Error(f"line {token.line}: unexpected {text!r}"
                             + (f" ({_closing(stack[-1])} expected)" if stack else ""))
            stack.pop()
    if stack:
        raise _Error(f"line {stack[-1].line}: {_closing(stack[-1])} expected at the end of "
                     "the script")


def _closing(token: _Token) -> str:
    closer = _OPEN.get(token.text) or {"repeat": "until", "if": "then", "while": "do",
                                       "for": "do"}.get(token.text, "end")
    return f"{closer!r} to close {token.text!r} at line {token.line}"


def problem(code: str) -> str | None:
    """What is wrong with the Lua script `code` (see the module docstring), or None."""
    try:
        _blocks(_tokens(code))
    except _Error as error:
        return f"the Lua script does not compile: {error}"
    if _ENTRY.search(code) is None:
        return ("the Lua script defines neither envoy_on_request(handle) nor "
                "envoy_on_response(handle): define one of them")
    return None
