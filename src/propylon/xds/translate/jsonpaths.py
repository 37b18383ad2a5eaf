"""Where a JSONPath (RFC 9535, the part EnvoyPatchPolicy's `operation.jsonPath` uses) points in
a JSON document: `locate(document, expression)` returns the JSON pointers of every match, in
document order.

Understood: the root `$` (optional), child names `.name` and `['name']`, wildcards `.*` and
`[*]`, indexes `[n]` (negative from the end), recursive descent `..name` / `..[...]`, and
filters `[?(...)]` or `[?...]` over the children of a list or object: `@.a.b` (exists),
`@.a == 'v'` / `!=` with a string, number, true, false or null, and `match(@.a, 're')` (whole
value) / `search(@.a, 're')` (part of it). Anything else raises `ValueError` naming what was
not understood.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

Located = tuple[Any, tuple[str, ...]]  # a value and the tokens of its pointer
_STEP = re.compile(
    r"""(?P<dots>\.\.|\.)?(?:(?P<name>[A-Za-z_][\w-]*|\*)|\[(?P<bracket>
        \*|-?\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\?\(.*?\)(?=\])|\?[^\]]*)\])""",
    re.VERBOSE)
_COMPARE = re.compile(r"^\s*@((?:\.[\w-]+)*)\s*(==|!=)\s*(.+?)\s*$")
_EXISTS = re.compile(r"^\s*@((?:\.[\w-]+)+)\s*$")
_FUNCTION = re.compile(r"""^\s*(match|search)\(\s*@((?:\.[\w-]+)*)\s*,\s*(['"])(.*)\3\s*\)\s*$""")


def locate(document: Any, expression: str) -> list[str]:
    """The JSON pointers `expression` selects in `document`."""
    text = expression.strip()
    text = text[1:] if text.startswith("$") else text
    nodes: list[Located] = [(document, ())]
    pos = 0
    while pos < len(text):
        step = _STEP.match(text, pos)
        if step is None or step.end() == pos or (step.group("name") and pos and not
                                                  step.group("dots")):
            raise ValueError(f"jsonPath {expression!r}: cannot read {text[pos:]!r}")
        pos = step.end()
        if step.group("dots") == "..":
            nodes = [n for node in nodes for n in _descendants(node)]
        nodes = [n for node in nodes for n in _select(node, step, expression)]
    return ["".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
            for _, tokens in nodes]


def _descendants(node: Located) -> Iterator[Located]:
    yield node
    for child in _children(node):
        yield from _descendants(child)


def _children(node: Located) -> Iterator[Located]:
    value, tokens = node
    if isinstance(value, dict):
        for key, child in value.items():
            yield child, (*tokens, key)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield child, (*tokens, str(i))


def _select(node: Located, step: re.Match[str], expression: str) -> Iterator[Located]:
    value, tokens = node
    name, bracket = step.group("name"), step.group("bracket")
    if name == "*" or bracket == "*":
        yield from _children(node)
    elif name is not None or (bracket is not None and bracket[0] in "'\""):
        key = name if name is not None else json.loads(
            '"' + bracket[1:-1].replace('"', '\\"').replace("\\'", "'") + '"')
        if isinstance(value, dict) and key in value:
            yield value[key], (*tokens, key)
    elif bracket is not None and bracket.startswith("?"):
        test = bracket[2:-1] if bracket.startswith("?(") else bracket[1:]
        for child in _children(node):
            if _holds(child[0], test, expression):
                yield child
    elif bracket is not None and isinstance(value, list):
        index = int(bracket)
        index = index + len(value) if index < 0 else index
        if 0 <= index < len(value):
            yield value[index], (*tokens, str(index))


_MISSING = object()


def _field(value: Any, path: str) -> Any:
    for key in filter(None, path.split(".")):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _holds(value: Any, test: str, expression: str) -> bool:
    if (found := _FUNCTION.match(test)) is not None:
        got = _field(value, found.group(2))
        if not isinstance(got, str):
            return False
        pattern = found.group(4)
        return bool(re.fullmatch(pattern, got) if found.group(1) == "match"
                    else re.search(pattern, got))
    if (found := _COMPARE.match(test)) is not None:
        literal = found.group(3)
        if literal[0] == "'" and literal[-1] == "'":
            literal = '"' + literal[1:-1].replace('"', '\\"') + '"'
        try:
            wanted = json.loads(literal)
        except ValueError:
            raise ValueError(f"jsonPath {expression!r}: cannot read the value "
                             f"{found.group(3)!r}") from None
        equal = _field(value, found.group(1)) == wanted
        return equal if found.group(2) == "==" else not equal
    if (found := _EXISTS.match(test)) is not None:
        return _field(value, found.group(1)) is not _MISSING
    raise ValueError(f"jsonPath {expression!r}: cannot read the filter {test!r}")
