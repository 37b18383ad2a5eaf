"""A fault-injecting HTTP proxy in front of the embedded API server, for controller tests.

The client under test talks plain HTTP to the proxy (`kubeconfig` is written for it, with the
server's token), and the proxy forwards every request to the real API server over https and
streams the answer back: lists, watches, bookmarks, writes, conflicts and errors are the real
server's. A test can change that only where a network or a busy cluster would:

- `requests` holds (method, path, query) of every request, to count what the client sent;
  `watches` is the number of watch streams open now;
- `drop_watches()` breaks the open watch streams as a lost connection does;
  `hold_watches()` breaks them and keeps new watch requests waiting until `release_watches()`,
  so the client misses what the test changes on the server meanwhile;
- `before(method, suffix, hook, times)` awaits `hook()` before forwarding the next `times`
  requests whose path ends with `suffix` (a concurrent write, which makes the server answer
  409 Conflict to a write based on the version before it);
- `answer(method, suffix, status, body, times)` answers the next `times` such requests itself,
  with a Status object or with text (as a load balancer in front of a server might).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from propylon.apiserver import APIServer

_DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class _Rule:
    method: str
    suffix: str
    times: int
    hook: Callable[[], Awaitable[None]] | None = None
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"

    def matches(self, request: web.Request) -> bool:
        return self.times > 0 and request.method == self.method and \
            request.path.endswith(self.suffix)


class FaultProxy:
    def __init__(self, server: APIServer) -> None:
        self.server = server
        self.requests: list[tuple[str, str, str]] = []
        self.watches = 0
        self.kubeconfig = server.state_dir.parent / "proxy.kubeconfig"
        self._rules: list[_Rule] = []
        self._open: set[tuple[asyncio.Transport, aiohttp.ClientResponse]] = set()
        self._released = asyncio.Event()
        self._released.set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        context = ssl.create_default_context(cafile=str(self.server.state_dir / "ca.crt"))
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context),
                                              timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        token = (self.server.state_dir / "token").read_text().strip()
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "proxy",
            "clusters": [{"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "proxy", "user": {"token": token}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
        }))

    async def stop(self) -> None:
        self.drop_watches()
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.endswith(suffix))

    def watch_queries(self) -> list[str]:
        return [q for _, _, q in self.requests if "watch=true" in q]

    def drop_watches(self) -> None:
        for transport, upstream in list(self._open):
            transport.abort()
            upstream.close()

    def hold_watches(self) -> None:
        self._released.clear()
        self.drop_watches()

    def release_watches(self) -> None:
        self._released.set()

    def before(self, method: str, suffix: str, hook: Callable[[], Awaitable[None]],
               times: int = 1) -> None:
        self._rules.append(_Rule(method, suffix, times, hook=hook))

    def answer(self, method: str, suffix: str, status: int, body: dict[str, Any] | str,
               times: int = 1) -> None:
        """Answer with `body`: a Status object, or text (as a proxy or load balancer would)."""
        text = isinstance(body, str)
        self._rules.append(_Rule(method, suffix, times, status=status,
                                 body=body.encode() if text else json.dumps(body).encode(),
                                 content_type="text/plain" if text else "application/json"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.query_string))
        watch = request.query.get("watch") == "true"
        if watch:
            await self._released.wait()
        for rule in self._rules:
            if rule.matches(request):
                rule.times -= 1
                if rule.hook is not None:
                    await rule.hook()
                else:
                    return web.Response(status=rule.status, body=rule.body,
                                        content_type=rule.content_type)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _DROPPED_HEADERS}
        upstream = await self._session.request(request.method, self.server.url + request.path_qs,
                                               data=await request.read() or None,
                                               headers=headers)
        response = web.StreamResponse(status=upstream.status, headers={
            "Content-Type": upstream.headers.get("Content-Type", "application/json")})
        await response.prepare(request)
        assert request.transport is not None
        stream = (request.transport, upstream)
        if watch:
            self._open.add(stream)
            self.watches += 1
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        except (aiohttp.ClientError, ConnectionError):
            request.transport.abort()  # dropped: the client sees a broken connection
        finally:
            upstream.release()
            if watch:
                self._open.discard(stream)
                self.watches -= 1
        return response
