"""Snippet annotations of header directives: nginx's quoting read as nginx reads it, literal
values in the route's header filters, variables in a Lua script, and anything else refused with
its name, as is every snippet the ConfigMap does not allow."""

from __future__ import annotations

import pytest

from propylon.api.luacheck import problem
from propylon.ingress.annotations.snippets import NOT_ALLOWED, SnippetError, convert, directives
from propylon.ingress.effects import Filter, Policy
from propylon.ingress.report import Outcome

ALLOWED = {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical"}


def test_nginx_quoting() -> None:
    snippet = ('more_set_headers "A: x;y" \'B: it\\\'s\';  # a comment; not a directive\n'
               'proxy_set_header  X-Q "say \\"hi\\"\\n";add_header C d always;')
    assert [[w for w, _ in d] for d in directives(snippet)] == [
        ["more_set_headers", "A: x;y", "B: it's"],
        ["proxy_set_header", "X-Q", 'say "hi"\n'],
        ["add_header", "C", "d", "always"]]


@pytest.mark.parametrize(("snippet", "message"), [
    ('more_set_headers "A: b"', "no closing ';'"),
    ('more_set_headers "A: b;', "is not closed"),
    ("location /x { return 200; }", "the block of 'location'"),
    ("more_set_headers 'A: b'; rewrite ^ /x break;", "the directive 'rewrite'"),
    ("more_set_headers -s 404 'A: b';", "options"),
    ("more_clear_headers 'X-Hidden-*';", "wildcards"),
    ("more_set_headers 'A: $request_id';", "$request_id has no equivalent"),
    ('more_set_headers "A: x\\r\\nSet-Cookie: y";', "control character"),
    ('proxy_set_header X-A "$host\\n";', "control character"),
    ('add_header X-A "nul\0" always;', "control character"),
])
def test_anything_but_header_directives_refuses_the_snippet(snippet: str, message: str) -> None:
    found = convert(snippet, False, ALLOWED)
    assert found.outcome == Outcome.REFUSED and message in found.note
    assert found.effects == ()


@pytest.mark.parametrize("config", [{}, {"allow-snippet-annotations": "true"},
                                    {"allow-snippet-annotations": "false",
                                     "annotations-risk-level": "Critical"}])
def test_snippets_the_configmap_does_not_allow_are_refused(config: dict[str, str]) -> None:
    found = convert("more_set_headers 'A: b';", False, config)
    assert (found.outcome, found.note) == (Outcome.REFUSED, NOT_ALLOWED)


def test_literal_values_become_header_filters() -> None:
    found = convert("more_set_headers 'A: b' 'Gone:'; proxy_set_header X-Env prod;"
                    "more_clear_input_headers Cookie;", False, ALLOWED)
    assert found.outcome == Outcome.CONVERTED
    assert found.effects == (
        Filter({"type": "RequestHeaderModifier", "requestHeaderModifier": {
            "set": [{"name": "X-Env", "value": "prod"}], "remove": ["Cookie"]}}),
        Filter({"type": "ResponseHeaderModifier", "responseHeaderModifier": {
            "set": [{"name": "A", "value": "b"}], "remove": ["Gone"]}}))


def test_variables_become_a_lua_script_that_compiles() -> None:
    found = convert('more_set_headers "ExpectedHost: $http_host";'
                    'proxy_set_header X-Real "${remote_addr}:$server_port$uri";', False, ALLOWED)
    assert found.outcome == Outcome.CONVERTED
    (policy,) = found.effects
    assert isinstance(policy, Policy) and policy.kind == "EnvoyExtensionPolicy"
    script = policy.spec["lua"][0]["inline"]
    assert problem(script) is None
    assert 'headers:replace("ExpectedHost", (v["http_host"] or ""))' in script
    assert 'headers:replace("X-Real", (v["remote_addr"] or "") .. ":" .. ' \
           '(v["server_port"] or "") .. (v["uri"] or ""))' in script


def test_differences_are_reported() -> None:
    assert convert("add_header A b;", False, ALLOWED).outcome == Outcome.DIFFERS
    assert convert("add_header A b always;", False, ALLOWED).outcome == Outcome.CONVERTED
    assert convert("add_header A b always;", True, ALLOWED).outcome == Outcome.DIFFERS


def test_snippet_error_is_the_parsers_own() -> None:
    with pytest.raises(SnippetError):
        directives("{")
