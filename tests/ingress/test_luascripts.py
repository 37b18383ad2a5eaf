"""Lua string literals of the conversion's scripts: whatever a snippet's value holds (quotes,
backslashes, newlines, `]]`, NUL, any Unicode character), the literal is printable ASCII whose
only escapes are Lua's decimal byte escapes, and it reads back as the value's UTF-8 bytes."""

from __future__ import annotations

import re

import pytest

from propylon.api.luacheck import problem
from propylon.ingress.luascripts import Variable, header_script, quote

_LITERAL_BODY = re.compile(r'(?:[ !#-\[\]-~]|\\[0-9]{3})*')  # printable ASCII but " and \


def _lua_bytes(literal: str) -> bytes:
    """What Lua reads from the literal (only the forms `_LITERAL_BODY` allows)."""
    assert literal[0] == literal[-1] == '"'
    body = literal[1:-1]
    assert _LITERAL_BODY.fullmatch(body), literal
    out = bytearray()
    for found in re.finditer(r"\\([0-9]{3})|(.)", body, re.DOTALL):
        if found.group(1) is not None:
            value = int(found.group(1))
            assert value <= 255, f"Lua refuses the escape \\{found.group(1)}"
            out.append(value)
        else:
            out += found.group(2).encode()
    return bytes(out)


@pytest.mark.parametrize("text", [
    'say "hi"', "back\\slash\\", "new\nline\r", "]]", "]=]", "nul\0byte", "tab\tend",
    '" .. os.exit() .. "', "\\\" .. x .. \"", "caf\u00e9", "line\u2028separator",
    "next\u0085line", "emoji \U0001f600", "\x7f",
])
def test_literals_read_back_as_the_values_bytes(text: str) -> None:
    assert _lua_bytes(quote(text)) == text.encode()



def test_a_script_of_hostile_values_passes_the_lua_check() -> None:
    hostile = '"]] \\ \n\r\0\u2028\u0085 end function x() --'
    script = header_script((("set", "X-A", (hostile, Variable("host"), hostile)),), ())
    assert problem(script) is None
