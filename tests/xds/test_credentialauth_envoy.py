"""SecurityPolicy basicAuth and apiKeyAuth, from the policies and their Secrets through both
translators to a real Envoy: who gets in, what the backend is told, routes without a policy
untouched, and a Secret rotated taking effect."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import aiohttp
from gateway_api_support import NODE, Stack, echo_backend, route, service
from xds_support import EnvoyFactory, XdsFixture, wait_for

GROUP = "gateway.networking.k8s.io"


def _htpasswd(user: str, password: str) -> str:
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}\n"


def _secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "SecurityPolicy",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"targetRefs": [{"group": GROUP, "kind": "HTTPRoute", "name": name}],
                     **spec}}


def _route(name: str) -> dict[str, Any]:
    return route(name, {"rules": [{"matches": [{"path": {"type": "PathPrefix",
                                                         "value": f"/{name}"}}],
                                   "backendRefs": [{"name": "app", "port": 8080}]}]})


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _get(session: aiohttp.ClientSession, port: int, path: str,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers or {}) as response:
        text = await response.text()
        echoed = response.content_type == "application/json"
        return response.status, json.loads(text)["headers"] if echoed else {}


async def test_basic_and_api_key_auth_in_envoy(xds: XdsFixture,
                                               envoy_factory: EnvoyFactory) -> None:
    async with echo_backend("app") as app:
        stack = Stack(objects=[
            *service("app", app.port), _route("basic"), _route("keys"), _route("open"),
            _secret("users", {".htpasswd": _htpasswd("user1", "test1")}),
            _secret("keys", {"client1": "key1", "client2": "key2"}),
            _policy("basic", {"basicAuth": {"users": {"name": "users"},
                                            "forwardUsernameHeader": "X-User"}}),
            _policy("keys", {"apiKeyAuth": {
                "credentialRefs": [{"name": "keys"}],
                "extractFrom": [{"headers": ["X-API-KEY"]}, {"params": ["key"]}],
                "forwardClientIDHeader": "X-Client-ID", "sanitize": True}})])
        stack.program(xds)
        await envoy_factory(NODE, xds.port)
        port = stack.port()
        async with aiohttp.ClientSession() as session:
            async def basic_ready() -> bool:
                try:
                    return (await _get(session, port, "/basic", _basic("user1", "test1")))[0] \
                        == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(basic_ready, what="/basic with user1's password -> 200")
            status, seen = await _get(session, port, "/basic", _basic("user1", "test1"))
            assert status == 200 and seen["x-user"] == "user1"
            assert seen["authorization"] == _basic("user1", "test1")["Authorization"]
            assert (await _get(session, port, "/basic"))[0] == 401
            assert (await _get(session, port, "/basic", _basic("user1", "wrong")))[0] == 401

            status, seen = await _get(session, port, "/keys", {"X-API-KEY": "key2"})
            assert status == 200 and seen["x-client-id"] == "client2"
            assert "x-api-key" not in seen
            assert (await _get(session, port, "/keys?key=key1"))[0] == 200
            assert (await _get(session, port, "/keys", {"X-API-KEY": "nope"}))[0] == 401
            assert (await _get(session, port, "/keys"))[0] == 401

            status, seen = await _get(session, port, "/open", {"X-API-KEY": "nope",
                                                               "X-User": "forged"})
            assert status == 200 and seen["x-api-key"] == "nope" and seen["x-user"] == "forged"

            stack.objects = [o for o in stack.objects
                             if (o["kind"], o["metadata"]["name"]) != ("Secret", "users")]
            stack.objects.append(_secret("users", {".htpasswd": _htpasswd("user1", "rotated")}))
            stack.program(xds)

            async def rotated() -> bool:
                return (await _get(session, port, "/basic", _basic("user1", "rotated")))[0] \
                    == 200

            await wait_for(rotated, what="/basic with the rotated password -> 200")
            assert (await _get(session, port, "/basic", _basic("user1", "test1")))[0] == 401
