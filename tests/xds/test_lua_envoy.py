"""EnvoyExtensionPolicy lua through both translators to a real Envoy: a Gateway-wide script
adds a response header on every route; a route's own policy replaces it with two scripts run
in order (one adding a request header the backend sees, one from a ConfigMap answering
requests itself); a policy whose script does not compile is Accepted False and never reaches
Envoy (which would refuse the listener): its route answers 500 (it fails closed), every other
route keeps being served. A snippet value full of Lua syntax reaches the header byte for
byte."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from gateway_api_support import NODE, Echo, Stack, echo_backend, route, service
from test_httproute_extended_envoy import until
from xds_support import EnvoyFactory, XdsFixture

from propylon.ingress.annotations.snippets import convert
from propylon.ingress.effects import Policy


@pytest.fixture
async def app() -> AsyncIterator[Echo]:
    async with echo_backend("app") as echo:
        yield echo


def _policy(name: str, target: dict[str, str], lua: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", **target}],
                     "lua": lua}}


def _inline(code: str) -> dict[str, str]:
    return {"type": "Inline", "inline": code}


def _prefix_route(name: str, prefix: str) -> dict[str, Any]:
    return route(name, {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                                   "backendRefs": [{"name": "app", "port": 8080}]}]})


_GATEWAY_WIDE = """
function envoy_on_response(handle)
  handle:headers():add("x-gateway-lua", "gw")
end
"""
_PATH_HEADER = """
-- the request's path, for the backend
function envoy_on_request(handle)
  handle:headers():add("x-lua-path", "[" .. handle:headers():get(":path") .. "]")
end
"""
_TEAPOT = """
function envoy_on_request(handle)
  if handle:headers():get("x-teapot") == "yes" then
    handle:respond({[":status"] = "418", ["x-seen-path"] = handle:headers():get("x-lua-path")},
                   "short and stout")
  end
end
"""


async def test_gateway_and_route_scripts(xds: XdsFixture, envoy_factory: EnvoyFactory,
                                         app: Echo) -> None:
    stack = Stack(objects=[
        *service("app", app.port),
        _prefix_route("api", "/api"), _prefix_route("public", "/public"),
        _prefix_route("broken", "/broken"),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "teapot", "namespace": "default"}, "data": {"lua": _TEAPOT}},
        _policy("gw", {"kind": "Gateway", "name": "gw"}, [_inline(_GATEWAY_WIDE)]),
        _policy("api", {"kind": "HTTPRoute", "name": "api"}, [
            _inline(_PATH_HEADER),
            {"type": "ValueRef", "valueRef": {"group": "", "kind": "ConfigMap",
                                              "name": "teapot"}}]),
        _policy("broken", {"kind": "HTTPRoute", "name": "broken"},
                [_inline("function envoy_on_request(handle)\n  handle:respond(\n")]),
    ])
    result = stack.program(xds)
    accepted = {s.name: s.status.to_json()["ancestors"][0]["conditions"][0]
                for s in result.statuses if s.kind == "EnvoyExtensionPolicy"}
    assert accepted["api"]["status"] == "True"
    assert accepted["broken"]["status"] == "False"
    assert "spec.lua[0].inline" in accepted["broken"]["message"]
    assert "does not compile" in accepted["broken"]["message"]
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/public", 200)
        async with session.get(f"{base}/public/x") as response:
            assert response.headers.get("x-gateway-lua") == "gw"
        async with session.get(f"{base}/broken") as response:  # fails closed
            assert response.status == 500 and "x-gateway-lua" not in response.headers
        async with session.get(f"{base}/api/v1?q=1") as response:
            assert response.status == 200
            seen = await response.json()
            assert seen["headers"]["x-lua-path"] == "[/api/v1?q=1]"
            assert "x-gateway-lua" not in response.headers  # replaced by the route's policy
        # the second script runs after the first: it sees the header the first one added
        async with session.get(f"{base}/api/tea", headers={"x-teapot": "yes"}) as response:
            assert response.status == 418
            assert response.headers.get("x-seen-path") == "[/api/tea]"
            assert await response.text() == "short and stout"


async def test_snippet_variables_read_by_the_conversions_script(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo) -> None:
    """The script an ingress-nginx snippet with variables becomes gives nginx's values."""
    port = await _serve_snippet(
        'more_set_headers "ExpectedHost: $http_host" "X-Seen: $host|$request_method";'
        'proxy_set_header X-Vars "$scheme|$server_port|$remote_addr|$request_uri|$uri|$args";'
        "more_clear_input_headers X-Drop;", xds, envoy_factory, app)
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/", 200)
        async with session.get(f"http://127.0.0.1:{port}/a/b?x=1&y=2",
                               headers={"Host": "Web.Example:8080", "X-Drop": "1"}) as response:
            seen = await response.json()
            assert response.headers["ExpectedHost"] == "Web.Example:8080"
            assert response.headers["X-Seen"] == "web.example|GET"
    assert seen["headers"]["x-vars"] == "http|80|127.0.0.1|/a/b?x=1&y=2|/a/b|x=1&y=2"
    assert "x-drop" not in seen["headers"]


async def test_snippet_values_of_lua_syntax_reach_envoy_as_written(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo) -> None:
    """Quotes, backslashes, `]]`, `--` and Unicode in a snippet's value are text in the
    script, never Lua: the header carries them byte for byte."""
    odd = 'q"]]\\ --[[ end é\u2028|'
    port = await _serve_snippet(f"more_set_headers 'X-Odd: {odd}$host';",
                                xds, envoy_factory, app)
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/", 200)
        async with session.get(f"http://127.0.0.1:{port}/", headers={"Host": "web"}) as response:
            raw = dict(response.raw_headers)[b"x-odd"]
    assert raw == f"{odd}web".encode()


async def _serve_snippet(snippet: str, xds: XdsFixture, envoy_factory: EnvoyFactory,
                         app: Echo) -> int:
    """Serve `app` behind an HTTPRoute carrying the Lua policy an allowed ingress-nginx
    configuration-snippet converts to; the Envoy's port."""
    found = convert(snippet, False,
                    {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical"})
    (policy,) = found.effects
    assert isinstance(policy, Policy)
    stack = Stack(objects=[*service("app", app.port), _prefix_route("api", "/"),
                           _policy("api", {"kind": "HTTPRoute", "name": "api"},
                                   policy.spec["lua"])])
    stack.program(xds)
    await envoy_factory(NODE, xds.port)
    return stack.port()
