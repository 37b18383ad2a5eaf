"""Findings 2 and 3 of the trust issue on a real stack: the embedded API server, the controller,
the xDS server and a real Envoy. What Envoy refuses is built into the xDS messages after
translation (`Defects`), so the tests do not depend on what the translator validates first:
they check the safety net behind it.

- A route Envoy refuses costs only itself: later changes of other routes on the same hostname
  are served, and the route's status says what Envoy refused (Accepted False when no rule is
  left, PartiallyInvalid when some are) until the route is fixed.
- A listener down because its Secret was deleted, its Secret back with a key that does not
  match its certificate (refused: ResolvedRefs False / InvalidCertificateRef with Envoy's
  message), then fixed: the HTTPS port serves again.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from envoy.config.route.v3.route_components_pb2 import VirtualHost
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from test_tls_envoy import served_serial
from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.api.kinds import by_kind
from propylon.apiserver import APIServer
from propylon.client import KubeClient, KubeError, load_client, resource_class
from propylon.controller.reconciler import Controller
from propylon.ir.model import GatewayIR
from propylon.translate.types import DEFAULT_CONTROLLER_NAME
from propylon.xds.translate import Translator, XdsResources
from tests.certificates import self_signed
from tests.controller.infra_double import LoopbackInfra

NODE = "default/gw"


class Defects:
    """The real xDS translation, then what Envoy refuses and no translator check sees: a
    lookbehind put in front of every path regex, and, while `key` is set, that private key in
    every secret."""

    def __init__(self) -> None:
        self.translator = Translator()
        self.key: str | None = None

    def __call__(self, ir: GatewayIR) -> XdsResources:
        out = self.translator(ir)
        hosts = {name: self._refused_regexes(vh) for name, vh in out.virtual_hosts.items()}
        secrets = dict(out.secrets)
        if self.key is not None:
            for name, secret in out.secrets.items():
                secrets[name] = bad = Secret()
                bad.CopyFrom(secret)
                bad.tls_certificate.private_key.inline_string = self.key
        return replace(out, virtual_hosts=hosts, secrets=secrets)

    @staticmethod
    def _refused_regexes(vhost: VirtualHost) -> VirtualHost:
        if not any(r.match.HasField("safe_regex") for r in vhost.routes):
            return vhost
        out = VirtualHost()
        out.CopyFrom(vhost)
        for route in out.routes:
            if route.match.HasField("safe_regex"):
                route.match.safe_regex.regex = "(?<=bar)" + route.match.safe_regex.regex
        return out


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[KubeClient]:
    server = APIServer(tmp_path / "api")
    await server.start()
    c = load_client(server.kubeconfig_path)
    yield c
    await c.close()
    await server.stop()


@pytest.fixture
async def stack(client: KubeClient, xds: XdsFixture, envoy_factory: EnvoyFactory
                ) -> AsyncIterator[Defects]:
    """A controller publishing through `Defects` to a real Envoy of Gateway default/gw."""
    defects = Defects()
    controller = Controller(client, xds.cache, LoopbackInfra("127.0.0.1"),
                            xds_translate_fn=defects)
    task = asyncio.create_task(controller.run())
    await apply(client, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                         "metadata": {"name": "propylon"},
                         "spec": {"controllerName": DEFAULT_CONTROLLER_NAME}})
    await envoy_factory(NODE, xds.port, wait_ready=False)
    yield defects
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def apply(client: KubeClient, obj: dict[str, Any]) -> None:
    kind = resource_class(by_kind(obj["kind"]))
    await client.apply(kind(obj), field_manager="test", force=True)


def gateway(listeners: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default"},
            "spec": {"gatewayClassName": "propylon", "listeners": listeners}}


def redirect_rule(path: str, hostname: str, kind: str = "PathPrefix") -> dict[str, Any]:
    return {"matches": [{"path": {"type": kind, "value": path}}],
            "filters": [{"type": "RequestRedirect",
                         "requestRedirect": {"hostname": hostname, "statusCode": 302}}]}


def route(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["app.example"],
                     "rules": rules}}


async def conditions(client: KubeClient, name: str) -> dict[str, dict[str, Any]]:
    """The conditions of the HTTPRoute's (only) parent."""
    obj = dict(await client.get(resource_class(by_kind("HTTPRoute")), name, namespace="default"))
    [parent] = (obj.get("status") or {}).get("parents") or [{}]
    return {c["type"]: c for c in parent.get("conditions") or ()}


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    async def safe() -> bool:
        try:
            return await check()
        except (aiohttp.ClientError, OSError, KubeError):
            return False
    await wait_for(safe, 30.0, what)


async def location(port: int, path: str) -> str | None:
    """The host `path` on app.example redirects to."""
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}{path}", headers={"Host": "app.example"},
            allow_redirects=False) as response:
        return urlsplit(response.headers.get("location", "")).hostname


async def test_a_refused_route_costs_only_itself_and_its_status_says_so(
        client: KubeClient, stack: Defects) -> None:
    port = free_port()
    await apply(client, gateway([{"name": "http", "port": port, "protocol": "HTTP"}]))
    await apply(client, route("app", [redirect_rule("/old", "old.example")]))
    await until(lambda: _eq(location(port, "/old"), "old.example"), "/old served")

    await apply(client, route("regex", [redirect_rule("/x", "x.example", "RegularExpression")]))

    async def refused() -> bool:
        accepted = (await conditions(client, "regex")).get("Accepted", {})
        return accepted.get("status") == "False"
    await until(refused, "the refused route's status")
    accepted = (await conditions(client, "regex"))["Accepted"]
    assert accepted["reason"] == "UnsupportedValue"
    assert "invalid perl operator: (?<=" in accepted["message"]

    await apply(client, route("app", [redirect_rule("/old", "old.example"),
                                      redirect_rule("/new", "new.example")]))
    await until(lambda: _eq(location(port, "/new"), "new.example"), "/new served")
    assert await location(port, "/old") == "old.example"
    app = await conditions(client, "app")
    assert app["Accepted"]["status"] == "True" and "PartiallyInvalid" not in app

    await apply(client, route("regex", [redirect_rule("/x", "x.example", "RegularExpression"),
                                        redirect_rule("/y", "y.example")]))

    async def partially() -> bool:
        conds = await conditions(client, "regex")
        return conds.get("PartiallyInvalid", {}).get("status") == "True" and \
            conds["Accepted"]["status"] == "True"
    await until(partially, "PartiallyInvalid on the route with a refused rule")
    partial = (await conditions(client, "regex"))["PartiallyInvalid"]
    assert partial["message"].startswith("Dropped Rule(s) 0: ")
    await until(lambda: _eq(location(port, "/y"), "y.example"), "the valid rule served")

    await apply(client, route("regex", [redirect_rule("/x", "x.example"),
                                        redirect_rule("/y", "y.example")]))

    async def fixed() -> bool:
        conds = await conditions(client, "regex")
        return "PartiallyInvalid" not in conds and conds["Accepted"]["status"] == "True"
    await until(fixed, "the fixed route's status")
    await until(lambda: _eq(location(port, "/x"), "x.example"), "the fixed rule served")


async def test_a_tls_listener_comes_back_once_its_mismatched_secret_is_fixed(
        client: KubeClient, stack: Defects) -> None:
    http, https = free_port(), free_port()
    first, second = self_signed("app.example", serial=8101), self_signed("app.example", serial=8102)
    await apply(client, secret(*first))
    await apply(client, gateway([
        {"name": "http", "port": http, "protocol": "HTTP"},
        {"name": "https", "port": https, "protocol": "HTTPS",
         "tls": {"certificateRefs": [{"name": "cert"}]}}]))
    await until(lambda: _eq(served_serial(https, "app.example"), 8101), "HTTPS served")

    await client.delete(resource_class(by_kind("Secret")), "cert", namespace="default")
    await until(lambda: _closed(https), "the HTTPS port closed without its Secret")

    stack.key = second[1]  # what Envoy gets: the first certificate with another key
    await apply(client, secret(*first))

    await until(lambda: _listener_refused(client), "the refused certificate in the status")

    stack.key = None
    await apply(client, secret(*second))
    await until(lambda: _eq(served_serial(https, "app.example"), 8102),
                "HTTPS served with the fixed Secret")
    await until(lambda: _listener_resolved(client), "ResolvedRefs True again")


def secret(cert: str, key: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "cert", "namespace": "default"},
            "data": {"tls.crt": base64.b64encode(cert.encode()).decode(),
                     "tls.key": base64.b64encode(key.encode()).decode()}}


async def _https_listener(client: KubeClient) -> dict[str, dict[str, Any]]:
    obj = dict(await client.get(resource_class(by_kind("Gateway")), "gw", namespace="default"))
    for listener in (obj.get("status") or {}).get("listeners") or ():
        if listener["name"] == "https":
            return {c["type"]: c for c in listener["conditions"]}
    return {}


async def _listener_refused(client: KubeClient) -> bool:
    conds = await _https_listener(client)
    refs = conds.get("ResolvedRefs", {})
    return (refs.get("reason") == "InvalidCertificateRef"
            and "KEY_VALUES_MISMATCH" in refs.get("message", "")
            and conds["Programmed"]["status"] == "False")


async def _listener_resolved(client: KubeClient) -> bool:
    conds = await _https_listener(client)
    return conds.get("ResolvedRefs", {}).get("status") == "True" and \
        conds.get("Programmed", {}).get("status") == "True"


async def _closed(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def _eq(value: Awaitable[object], want: object) -> bool:
    return await value == want
