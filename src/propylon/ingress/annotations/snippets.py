"""`configuration-snippet` and `server-snippet` made only of header directives, converted.

ingress-nginx takes snippet annotations only when its ConfigMap allows them:
`allow-snippet-annotations: "true"` and `annotations-risk-level: Critical` (snippets are of
risk Critical; the default level, High, drops them). Otherwise the snippet is refused with that
reason, as ingress-nginx ignores it.

An allowed snippet is parsed as nginx reads its configuration (words, double- and
single-quoted strings with backslash escapes, `;` ending a directive, `#` comments) and
converted when every directive is one of nginx-headers-more's and nginx core's header
directives: `more_set_headers` / `add_header` (response headers set / added; `add_header`
without `always` acts on 2xx and 3xx answers only in nginx, on every answer here: reported),
`more_clear_headers` (response headers removed), `more_set_input_headers` / `proxy_set_header`
(request headers set; an empty value removes), `more_clear_input_headers` (request headers
removed). Literal values become the route's RequestHeaderModifier/ResponseHeaderModifier;
values reading nginx variables (`luascripts.VARIABLES`, `$http_<name>`) become a Lua script
(an EnvoyExtensionPolicy on the route). Anything else (another directive, a block, an option
such as `-s`, a wildcard, an unknown variable, a control character such as CR or LF in a
value) refuses the whole snippet, naming it.
`server-snippet` acts on the Ingress's own paths only (nginx: every location of the host's
server): reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from propylon.ingress.effects import (
    Context,
    Converted,
    Converter,
    Filter,
    Policy,
    converted,
    differs,
    refused,
)
from propylon.ingress.luascripts import Directive, Part, Variable, header_script, known

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
# directive -> (request or response, action, written as "Name: value" strings)
_DIRECTIVES = {"more_set_headers": ("response", "set", True),
               "add_header": ("response", "add", False),
               "more_clear_headers": ("response", "remove", False),
               "more_set_input_headers": ("request", "set", True),
               "proxy_set_header": ("request", "set", False),
               "more_clear_input_headers": ("request", "remove", False)}
NOT_ALLOWED = ("ingress-nginx ignores snippet annotations unless its ConfigMap sets "
               "allow-snippet-annotations: \"true\" and annotations-risk-level: Critical; "
               "express what the snippet does with an HTTPRoute filter or an Envoy Gateway "
               "policy on the converted HTTPRoute (headers: RequestHeaderModifier/"
               "ResponseHeaderModifier; Lua logic: an EnvoyExtensionPolicy)")


class SnippetError(Exception):
    pass


Word = tuple[str, bool]  # (text, quoted)


def directives(snippet: str) -> list[list[Word]]:
    """The directives of an nginx configuration snippet, each a list of its words."""
    out: list[list[Word]] = []
    words: list[Word] = []
    pos = 0
    while pos < len(snippet):
        char = snippet[pos]
        if char.isspace():
            pos += 1
        elif char == "#":
            end = snippet.find("\n", pos)
            pos = len(snippet) if end < 0 else end
        elif char == ";":
            if not words:
                raise SnippetError("an empty directive (a ';' alone)")
            out.append(words)
            words, pos = [], pos + 1
        elif char in "{}":
            raise SnippetError(f"the block of {words[0][0] if words else char!r}: only "
                               "header directives are converted")
        elif char in "\"'":
            text, pos = _quoted(snippet, pos)
            words.append((text, True))
        else:
            start = pos
            while pos < len(snippet) and not snippet[pos].isspace() \
                    and snippet[pos] not in ";{}\"'":
                pos += 1
            words.append((snippet[start:pos], False))
    if words:
        raise SnippetError(f"{words[0][0]!r} has no closing ';'")
    return out


def _quoted(snippet: str, pos: int) -> tuple[str, int]:
    quote, pos, out = snippet[pos], pos + 1, []
    while pos < len(snippet):
        char = snippet[pos]
        if char == "\\" and pos + 1 < len(snippet):
            following = snippet[pos + 1]
            out.append(_ESCAPES.get(following, following if following in "\"'\\" else
                                    "\\" + following))
            pos += 2
        elif char == quote:
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise SnippetError(f"a string opened with {quote} is not closed")


def _value(text: str, directive: str) -> tuple[Part, ...]:
    if any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7f for c in text):
        raise SnippetError(f"{directive}: the value {text!r} holds a control character (CR, "
                           "LF, NUL ...), which no header value may hold: remove it")
    parts: list[Part] = []
    pos = 0
    for found in _VARIABLE.finditer(text):
        name = found.group(1) or found.group(2)
        if not known(name):
            raise SnippetError(f"the nginx variable ${name} has no equivalent")
        if found.start() > pos:
            parts.append(text[pos:found.start()])
        parts.append(Variable(name))
        pos = found.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def _header(name: str, directive: str) -> str:
    if not _HEADER_NAME.match(name) or "*" in name:
        raise SnippetError(f"{directive}: {name!r} is not a header name (wildcards are not "
                           "converted)")
    return name


def _directive(words: list[Word]) -> tuple[str, list[Directive], bool]:
    """(request or response, its header directives, whether it is add_header without
    always)."""
    name = words[0][0]
    if name not in _DIRECTIVES:
        raise SnippetError(f"the directive {name!r}: only header directives "
                           f"({', '.join(_DIRECTIVES)}) are converted")
    side, action, colon = _DIRECTIVES[name]
    args = [text for text, _ in words[1:]]
    if any(a.startswith("-") for a, (_, quoted) in zip(args, words[1:], strict=True)
           if not quoted):
        raise SnippetError(f"{name}: options (-s, -t, -r) are not converted")
    if action == "remove":
        return side, [("remove", _header(a.partition(":")[0].strip(), name), ())
                      for a in args], False
    if colon:
        out: list[Directive] = []
        for arg in args:
            header, has_value, value = arg.partition(":")
            parts = _value(value.strip(), name) if has_value else ()
            out.append(("set" if parts else "remove", _header(header.strip(), name), parts))
        return side, out, False
    always = args[2:] == ["always"]
    if len(args) != 2 and not always:
        raise SnippetError(f"{name} takes a header name and a value")
    parts = _value(args[1], name)
    return side, [(action if parts or action == "add" else "remove",
                   _header(args[0], name), parts)], name == "add_header" and not always


def _allowed(config: Mapping[str, str]) -> bool:
    return config.get("allow-snippet-annotations", "").strip().lower() == "true" \
        and config.get("annotations-risk-level", "").strip() == "Critical"


def _modifier(directives: list[Directive]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for action, name, parts in directives:
        if action == "remove":
            out.setdefault("remove", []).append(name)
        else:
            value = "".join(p for p in parts if isinstance(p, str))
            out.setdefault(action, []).append({"name": name, "value": value})
    return out


def convert(snippet: str, server: bool, config: Mapping[str, str]) -> Converted:
    """The effects of a snippet (see the module docstring)."""
    if not _allowed(config):
        return refused(NOT_ALLOWED)
    try:
        parsed = [_directive(words) for words in directives(snippet)]
    except SnippetError as error:
        return refused(f"{error}; express the rest of the snippet with an HTTPRoute filter "
                       "or an Envoy Gateway policy on the converted HTTPRoute")
    sides: dict[str, list[Directive]] = {"request": [], "response": []}
    for side, found, _ in parsed:
        sides[side] += found
    dynamic = any(isinstance(p, Variable) for _, _, parts in sides["request"] + sides["response"]
                  for p in parts)
    if dynamic:
        effects: tuple[Filter | Policy, ...] = (Policy("EnvoyExtensionPolicy", {"lua": [{
            "type": "Inline", "inline": header_script(tuple(sides["request"]),
                                                      tuple(sides["response"]))}]}),)
    else:
        effects = tuple(Filter({"type": kind, field: _modifier(sides[side])})
                        for side, kind, field in (
                            ("request", "RequestHeaderModifier", "requestHeaderModifier"),
                            ("response", "ResponseHeaderModifier", "responseHeaderModifier"))
                        if sides[side])
    notes = []
    if any(not_always for _, _, not_always in parsed):
        notes.append("add_header without always: nginx adds the header to 2xx and 3xx answers "
                     "only, Envoy to every answer")
    if server:
        notes.append("the server-snippet's headers act on this Ingress's paths only, not on "
                     "other Ingresses of the host")
    how = "a Lua script (EnvoyExtensionPolicy)" if dynamic else "the route's header filters"
    if notes:
        return differs("; ".join(notes), *effects)
    return converted(*effects, note=f"header directives converted to {how} (snippets allowed "
                     "by the ConfigMap; other directives are refused, naming them)")


def _configuration(ctx: Context, value: str) -> Converted:
    return convert(value, False, ctx.config)


def _server(ctx: Context, value: str) -> Converted:
    return convert(value, True, ctx.config)


CONVERTERS: Mapping[str, Converter] = {
    "configuration-snippet": _configuration,
    "server-snippet": _server,
}
