"""EnvoyExtensionPolicy `lua` decoding and the Lua check that keeps a script Envoy would refuse
(and with it the whole listener) away from Envoy."""

from __future__ import annotations

import pytest

from propylon.api.envoygateway import Policy
from propylon.api.lua import LuaScript, lua_scripts
from propylon.api.luacheck import problem

_PASSING = [
    "function envoy_on_request(handle) end",
    "envoy_on_response = function(handle) handle:logInfo('x') end",
    # `end` inside strings and comments is not a keyword
    'function envoy_on_request(h)\n  -- an end here\n  local s = "end" .. \'end\'\n'
    "  local l = [==[\nend ]] end\n]==]\n  --[[ end\n end ]]\nend\n",
    "local t = {a = {1, 2}, [\"b\"] = (3)}\nfunction envoy_on_request(h)\n"
    "  for i = 1, 3 do if i > 1 then h:x() elseif i < 0 then h:y() else h:z() end end\n"
    "  while false do end\n  repeat local x = 1 until true\n  do local y = 0x1F + 1e3 end\n"
    "end\n",
    'function envoy_on_request(h) local s = "a \\" quote" end',
    # every escape LuaJIT takes: letters, quotes, decimal up to 255, \xXX, \u{X}, \z, newline
    'function envoy_on_request(h) local s = "\\a\\b\\f\\n\\r\\t\\v\\\\\\\'\\0\\255\\x4f\\u{1F600}\\z \n x\\\n" end',
]
_FAILING = [
    ("function envoy_on_request(handle)\n  if x then\n    y()\nend\n",
     "line 1: 'end' to close 'function' at line 1 expected"),
    ("function envoy_on_request(handle)\nend\nend\n", "line 3: unexpected 'end'"),
    ('function envoy_on_request(h) local s = "open\nend', "unfinished string"),
    ("function envoy_on_request(h) local s = [[ open end", "unfinished long string"),
    ("function envoy_on_request(h) h:f(1, {2) end", "unexpected ')'"),
    ("function envoy_on_request(h) if x h() end end", "unexpected 'end'"),
    ("function envoy_on_request(h) local a = 1 @ 2 end", "unexpected symbol '@'"),
    ("local x = 1", "defines neither envoy_on_request"),
    # escapes LuaJIT refuses (Envoy with it): over 255, unknown, short hex, out of Unicode
    *((f'function envoy_on_request(h) local s = "a{bad}" end', f"line 1: invalid escape sequence {bad[:2]}")
      for bad in ("\\256", "\\q", "\\x4", "\\u{D800}", "\\u{110000}", "\\u48")),
]


@pytest.mark.parametrize("code", _PASSING)
def test_scripts_that_compile_pass(code: str) -> None:
    assert problem(code) is None


@pytest.mark.parametrize(("code", "message"), _FAILING)
def test_scripts_envoy_would_refuse_are_named(code: str, message: str) -> None:
    found = problem(code)
    assert found is not None and message in found


def test_entries_are_decoded_in_order_with_their_problems() -> None:
    scripts, problems = lua_scripts({"lua": [
        {"type": "Inline", "inline": "function envoy_on_request(h) end"},
        {"type": "ValueRef", "valueRef": {"group": "", "kind": "ConfigMap", "name": "s"}},
        {"type": "ValueRef", "valueRef": {"kind": "Secret", "name": "t"}},
        {"type": "Inline"},
        {"type": "Inline", "inline": "function envoy_on_request(h)"}]})
    assert scripts[:2] == (LuaScript(code="function envoy_on_request(h) end"),
                           LuaScript(config_map="s"))
    assert [p.split(":")[0].split(" ")[0] for p in problems] == [
        "spec.lua[2].valueRef", "spec.lua[3]", "spec.lua[4].inline"]


def test_a_policy_with_a_broken_script_has_a_problem_naming_it() -> None:
    policy = Policy.decode({
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                 "name": "gw"}],
                 "lua": [{"type": "Inline", "inline": "function envoy_on_request(h)"}],
                 "wasm": [{"name": "w"}]}})
    assert any(p.startswith("spec.lua[0].inline: the Lua script does not compile")
               for p in policy.problems)
    assert any(p.startswith("spec.wasm is not implemented") for p in policy.problems)
