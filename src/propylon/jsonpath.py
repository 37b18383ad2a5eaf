"""The kubectl JSONPath template language, pure (no I/O): parse once, evaluate on JSON data.

A template is literal text mixed with actions in braces, as `kubectl get -o jsonpath=...` takes:

    {.metadata.name}                      a field
    {.items[*].metadata.name}             every element, results separated by one space
    {.spec.ports[0].port} {.items[-1]}    an index (negative counts from the end), or [a:b:step]
    {.status.conditions[?(@.type=="Programmed")].status}   a filter (== != < > <= >=, or [?(@.x)])
    {..name} {.metadata.labels.*}         recursive descent, wildcard (map keys in sorted order,
                                          where kubectl's order is random)
    {.metadata.labels['app\\.io/name']}   bracket notation; `\\.` escapes a dot in dotted names
    {range .items[*]}{.metadata.name}{"\\n"}{end}   a loop; inside it paths start at the element
    {"text"}                              a quoted literal (Go escapes such as \\n and \\t)

How it works: `parse()` turns the template into a tree of `_Text`, `_Expr` and `_Range` nodes,
each path a tuple of steps. Evaluation maps a list of current values through the steps, as the
Go implementation in client-go does, and `render()` prints results the way kubectl does:
strings raw, numbers and booleans as Go prints them, maps and lists as compact JSON with sorted
keys. A missing field yields nothing when `allow_missing` (kubectl's default) and an error
otherwise; an index out of range is always an error, as in kubectl.

`find()` evaluates one path (with or without braces) and returns its values: this is what a
server needs for CRD printer columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """A template that cannot be parsed, or a path that cannot be evaluated on the data."""


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Recursive:
    name: str | None  # None: `..*`


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None
    index: bool  # written as [n]: the end is start + 1


@dataclass(frozen=True)
class _Union:
    parts: tuple[_Field | _Slice, ...]


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Filter:
    left: _Path
    op: str  # "exists" or a comparison operator
    right: _Path | _Literal | None


@dataclass(frozen=True)
class _Path:
    root: bool  # starts at `$` (the whole document) rather than the current value
    steps: tuple[_Step, ...]


_Step = _Field | _Recursive | _Wildcard | _Slice | _Union | _Filter


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Expr:
    path: _Path


@dataclass(frozen=True)
class _Range:
    path: _Path
    body: tuple[_Node, ...]


_Node = _Text | _Expr | _Range

_NAME_END = set(" \t.[](),}!=<>'\"")
_COMPARATORS = ("==", "!=", "<=", ">=", "<", ">")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class _PathParser:
    """A cursor over the text of one path, e.g. `.items[?(@.x=="y")].name`."""

    def __init__(self, text: str, template: str) -> None:
        self.text = text
        self.pos = 0
        self.template = template

    def error(self, message: str) -> JSONPathError:
        return JSONPathError(f"error parsing jsonpath {self.template}, {message}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def path(self, stop: str = "") -> _Path:
        """Parse steps until the end of the text or a character in `stop` (not consumed)."""
        root = False
        if self.peek() == "$":
            root, self.pos = True, self.pos + 1
        elif self.peek() == "@":
            self.pos += 1
        steps: list[_Step] = []
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            c = self.text[self.pos]
            if self.peek(2) == "..":
                self.pos += 2
                if self.peek() == "*":
                    self.pos += 1
                    steps.append(_Recursive(None))
                else:
                    steps.append(_Recursive(self.name()))
            elif c == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    steps.append(_Wildcard())
                elif self.pos < len(self.text) and self.text[self.pos] not in _NAME_END:
                    steps.append(_Field(self.name()))
                # a lone "." is the current value itself
            elif c == "[":
                steps.append(self.bracket())
            else:
                raise self.error(f"unrecognized character {c!r} in {self.text!r}")
        return _Path(root, tuple(steps))

    def name(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if c in _NAME_END:
                break
            out.append(c)
            self.pos += 1
        if not out:
            raise self.error(f"expected a field name at position {self.pos} of {self.text!r}")
        return "".join(out)

    def bracket(self) -> _Step:
        self.pos += 1  # "["
        self.skip_spaces()
        if self.peek() == "*":
            self.pos += 1
            step: _Step = _Wildcard()
        elif self.peek(2) == "?(":
            self.pos += 2
            step = self.filter()
        else:
            parts: list[_Field | _Slice] = [self.bracket_part()]
            self.skip_spaces()
            while self.peek() == ",":
                self.pos += 1
                self.skip_spaces()
                parts.append(self.bracket_part())
                self.skip_spaces()
            step = parts[0] if len(parts) == 1 else _Union(tuple(parts))
        self.skip_spaces()
        if self.peek() != "]":
            raise self.error(f"unclosed [ in {self.text!r}")
        self.pos += 1
        return step

    def bracket_part(self) -> _Field | _Slice:
        if self.peek() in ("'", '"'):
            return _Field(self.quoted())
        m = re.compile(r"(-?\d*)(?::(-?\d*))?(?::(-?\d*))?").match(self.text, self.pos)
        if m is None or m.end() == self.pos:
            raise self.error(f"invalid array index in {self.text!r}")
        self.pos = m.end()
        start, end, step = m.group(1), m.group(2), m.group(3)
        if end is None:
            if not start:
                raise self.error(f"invalid array index in {self.text!r}")
            return _Slice(int(start), None, None, index=True)
        return _Slice(int(start) if start else None, int(end) if end else None,
                      int(step) if step else None, index=False)

    def quoted(self) -> str:
        quote = self.text[self.pos]
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != quote:
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.error(f"unterminated string in {self.text!r}")
        raw = self.text[self.pos + 1:end]
        self.pos = end + 1
        return _unescape(raw)

    def filter(self) -> _Filter:
        self.skip_spaces()
        left = self.path(stop=" \t)!=<>")
        self.skip_spaces()
        op = next((o for o in _COMPARATORS if self.text.startswith(o, self.pos)), None)
        right: _Path | _Literal | None = None
        if op is None:
            op = "exists"
        else:
            self.pos += len(op)
            self.skip_spaces()
            right = self.operand()
            self.skip_spaces()
        if self.peek() != ")":
            raise self.error(f"unclosed filter ?( in {self.text!r}")
        self.pos += 1
        return _Filter(left, op, right)

    def operand(self) -> _Path | _Literal:
        c = self.peek()
        if c in ("'", '"'):
            return _Literal(self.quoted())
        if c in ("@", "$", "."):
            return self.path(stop=" \t)")
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return _Literal(float(m.group()) if m.group(1) or m.group(2) else int(m.group()))
        for word, value in (("true", True), ("false", False), ("nil", None), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return _Literal(value)
        raise self.error(f"invalid filter operand in {self.text!r}")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "b": "\b",
            "0": "\0", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _unescape(raw: str) -> str:
    """Interpret Go string escapes (\\n, \\t, \\", \\\\, \\uXXXX); others give the character
    itself."""
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)
    return _ESCAPE.sub(one, raw)


def _split_actions(template: str) -> list[tuple[bool, str]]:
    """Split into (is_action, text) pieces; braces inside quotes do not end an action."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            pieces.append((False, template[pos:]))
            break
        if start > pos:
            pieces.append((False, template[pos:start]))
        i, quote = start + 1, ""
        while i < len(template):
            c = template[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in ("'", '"'):
                quote = c
            elif c == "}":
                break
            i += 1
        if i >= len(template):
            raise JSONPathError(f"error parsing jsonpath {template}, unclosed action")
        pieces.append((True, template[start + 1:i]))
        pos = i + 1
    return pieces


@dataclass(frozen=True)
class Template:
    """A parsed template; `render(data)` prints it as kubectl does."""

    source: str
    nodes: tuple[_Node, ...]

    def render(self, data: Any, allow_missing: bool = True) -> str:
        out: list[str] = []
        _render_nodes(self.nodes, data, data, allow_missing, out, self.source)
        return "".join(out)


def parse(template: str) -> Template:
    """Parse a kubectl JSONPath template. JSONPathError names what is wrong."""
    stack: list[list[_Node]] = [[]]
    ranges: list[_Path] = []
    for is_action, text in _split_actions(template):
        if not is_action:
            stack[-1].append(_Text(text))
            continue
        action = text.strip()
        if action.startswith(("'", '"')):
            parser = _PathParser(action, template)
            literal = parser.quoted()
            if parser.pos != len(action):
                raise JSONPathError(f"error parsing jsonpath {template}, "
                                    f"unexpected text after string in {{{text}}}")
            stack[-1].append(_Text(literal))
        elif action == "end":
            if not ranges:
                raise JSONPathError(f"error parsing jsonpath {template}, not in range, "
                                    "nothing to end")
            body = stack.pop()
            stack[-1].append(_Range(ranges.pop(), tuple(body)))
        elif action.startswith("range ") or action == "range":
            ranges.append(_PathParser(action[len("range"):].strip(), template).path())
            stack.append([])
        elif action == "":
            raise JSONPathError(f"error parsing jsonpath {template}, empty action {{}}")
        else:
            stack[-1].append(_Expr(_PathParser(action, template).path()))
    if ranges:
        raise JSONPathError(f"error parsing jsonpath {template}, unclosed range: "
                            "add {end}")
    return Template(template, tuple(stack[0]))


def render(template: str, data: Any, allow_missing: bool = True) -> str:
    """Parse and render in one call: `render("{.metadata.name}", obj)`."""
    return parse(template).render(data, allow_missing)


def find(path: str, data: Any, allow_missing: bool = True) -> list[Any]:
    """The values one path selects, e.g. `find('.status.addresses[*].value', gateway)`.

    Braces around the path are optional (`{.a}` and `.a` are the same)."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return _eval_path(_PathParser(text, path).path(), data, data, allow_missing, path)


def format_value(value: Any) -> str:
    """One result as kubectl prints it: strings raw, maps and lists as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return str(value)


def _go_float(value: float) -> str:
    """Go's %v for a float64: integral values without a fraction, exponent from 1e21."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent):+03d}"
    return text


def _render_nodes(nodes: Sequence[_Node], root: Any, current: Any, allow_missing: bool,
                  out: list[str], source: str) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Expr):
            values = _eval_path(node.path, root, current, allow_missing, source)
            out.append(" ".join(format_value(v) for v in values))
        else:
            for item in _eval_path(node.path, root, current, allow_missing, source):
                _render_nodes(node.body, root, item, allow_missing, out, source)


def _eval_path(path: _Path, root: Any, current: Any, allow_missing: bool,
               source: str) -> list[Any]:
    values = [root if path.root else current]
    for step in path.steps:
        values = _eval_step(step, values, root, allow_missing, source)
    return values


def _eval_step(step: _Step, values: list[Any], root: Any, allow_missing: bool,
               source: str) -> list[Any]:
    if not values:
        return []
    if isinstance(step, _Field):
        found = [v[step.name] for v in values if isinstance(v, dict) and step.name in v]
        if not found and not allow_missing:
            raise _exec_error(source, f"{step.name} is not found")
        return found
    if isinstance(step, _Wildcard):
        return [x for v in values for _, x in _children(v)]
    if isinstance(step, _Recursive):
        return [x for v in values for x in _descend(v, step.name)]
    if isinstance(step, _Slice):
        return [x for v in values if v is not None for x in _slice(step, v, source)]
    if isinstance(step, _Union):
        return [x for part in step.parts
                for x in _eval_step(part, values, root, allow_missing, source)]
    return [x for v in values if v is not None
            for x in _filter(step, v, root, allow_missing, source)]


def _exec_error(source: str, message: str) -> JSONPathError:
    return JSONPathError(f'error executing jsonpath "{source}": '
                         f"Error executing template: {message}")


def _go_type(value: Any) -> str:
    """The Go type kubectl names in its errors for a JSON value."""
    names = {str: "string", bool: "bool", int: "int64", float: "float64",
             dict: "map[string]interface {}", list: "[]interface {}"}
    return names.get(type(value), "interface {}")


def _children(value: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs; map keys sorted, where Go iterates a map in random order."""
    if isinstance(value, dict):
        return sorted(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return []


def _descend(value: Any, name: str | None) -> list[Any]:
    out: list[Any] = []
    children = _children(value)
    for key, child in children:
        if name is None or key == name:
            out.append(child)
    for _, child in children:
        out.extend(_descend(child, name))
    return out


def _slice(step: _Slice, value: Any, source: str) -> list[Any]:
    if not isinstance(value, list):
        raise _exec_error(source, f"{_go_type(value)} is not array or slice")
    n = len(value)
    start = 0 if step.start is None else step.start
    if start < 0:
        start += n
    if step.index:
        end = start + 1
    else:
        end = n if step.end is None else step.end
        if end < 0:
            end += n
    if start == end:
        return []
    if not 0 <= start < n or not 0 <= end <= n:
        bad = start if not 0 <= start < n else end - 1
        raise _exec_error(source, f"array index out of bounds: index {bad}, length {n}")
    if start > end:
        raise _exec_error(source, f"starting index {start} is greater than ending index {end}")
    stride = 1 if step.step is None else step.step
    if stride <= 0:
        raise _exec_error(source, "step must be > 0")
    return value[start:end:stride]


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    ">": lambda a, b: bool(a > b),
    "<=": lambda a, b: bool(a <= b),
    ">=": lambda a, b: bool(a >= b),
}


def _filter(step: _Filter, value: Any, root: Any, allow_missing: bool,
            source: str) -> list[Any]:
    if not isinstance(value, list):
        raise _exec_error(source, f"{_go_type(value)} is not array or slice")
    out: list[Any] = []
    for item in value:
        lefts = _eval_path(step.left, root, item, True, source)
        if step.op == "exists":
            if lefts:
                out.append(item)
            continue
        assert step.right is not None
        rights = ([step.right.value] if isinstance(step.right, _Literal)
                  else _eval_path(step.right, root, item, True, source))
        if not lefts or not rights:
            if not allow_missing:
                raise _exec_error(source, "filter operand is not found")
            continue
        if len(lefts) > 1 or len(rights) > 1:
            raise _exec_error(source, "can only compare one element at a time")
        try:
            if _COMPARE[step.op](lefts[0], rights[0]):
                out.append(item)
        except TypeError:
            raise _exec_error(source, f"incompatible types for comparison: "
                                      f"{lefts[0]!r} {step.op} {rights[0]!r}") from None
    return out
