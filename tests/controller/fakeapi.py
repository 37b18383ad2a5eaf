"""A small Kubernetes-like API for failure injection in controller tests.

It serves any `/api/v1/...` or `/apis/<group>/<version>/...` collection from memory: list (with
the collection's resourceVersion), watch from a resourceVersion (history replay, bookmarks,
410 Gone as an HTTP status or as an ERROR event once history has been compacted), GET, and the
status subresource (merge patch and PUT, with injectable 409 conflicts). Tests mutate objects
through `put()` / `delete()`, drop every open watch connection with `drop_watches()`, and read
`requests` to count what the client sent. Errors carry `Content-Type: application/json` exactly,
as a real API server's do.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from propylon.api.mergepatch import merge_patch

Key = tuple[str, str, str]  # plural, namespace, name


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}


@dataclass
class _Event:
    rv: int
    plural: str
    type: str
    obj: dict[str, Any]


@dataclass
class FakeAPI:
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    history: list[_Event] = field(default_factory=list)
    rv: int = 1
    compacted_rv: int = 0  # watches from a version below this get 410
    gone_as_event: bool = False  # send 410 as an ERROR watch event instead of an HTTP status
    conflicts: int = 0  # the next N status writes answer 409
    missing: set[str] = field(default_factory=set)  # plurals answering 404 (CRD not installed)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, query
    _watchers: set[asyncio.Queue[_Event | None]] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    url: str = ""
    kubeconfig: Path = Path()

    async def start(self, tmp: Path) -> Path:
        """Serve on 127.0.0.1 and write a kubeconfig for it; returns the kubeconfig path."""
        port = await self._serve(0)
        self.url = f"http://127.0.0.1:{port}"
        self.kubeconfig = kubeconfig = tmp / "fake.kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return kubeconfig

    async def _serve(self, port: int) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        return int(self._runner.addresses[0][1])

    async def restart(self) -> None:
        """Serve again on the same port after `stop()`."""
        await self._serve(int(self.url.rpartition(":")[2]))

    async def stop(self) -> None:
        self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- mutations made by tests -------------------------------------------------------------

    def put(self, plural: str, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (plural, meta.get("namespace", ""), meta["name"])
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("generation", 1)
        kind = event or ("MODIFIED" if key in self.objects else "ADDED")
        self.objects[key] = obj
        self._publish(_Event(self.rv, plural, kind, obj))
        return obj

    def delete(self, plural: str, namespace: str, name: str) -> None:
        obj = self.objects.pop((plural, namespace, name))
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._publish(_Event(self.rv, plural, "DELETED", obj))

    def bookmark(self, plural: str) -> None:
        self.rv += 1
        self._publish(_Event(self.rv, plural, "BOOKMARK",
                             {"metadata": {"resourceVersion": str(self.rv)}}))

    def compact(self) -> None:
        """Forget all history: every watch from an older version now gets 410 Gone."""
        self.history.clear()
        self.compacted_rv = self.rv

    def drop_watches(self) -> None:
        for q in list(self._watchers):
            q.put_nowait(None)

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.endswith(suffix))

    def _publish(self, event: _Event) -> None:
        if event.type != "BOOKMARK":
            self.history.append(event)
        for q in list(self._watchers):
            q.put_nowait(event)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.query_string))
        parts = request.path.strip("/").split("/")
        parts = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = ""
        if len(parts) >= 3 and parts[0] == "namespaces":
            namespace, parts = parts[1], parts[2:]
        plural, rest = parts[0], parts[1:]
        if plural in self.missing:
            return _json(404, _status(404, "NotFound", "the server could not find the resource"))
        if not rest:
            if request.query.get("watch") == "true":
                return await self._watch(request, plural, namespace)
            return self._list(plural, namespace)
        key = (plural, namespace, rest[0])
        if key not in self.objects:
            return _json(404, _status(404, "NotFound", f'{plural} "{rest[0]}" not found'))
        if request.method == "GET":
            return _json(200, self.objects[key])
        if rest[1:] == ["status"] and request.method in ("PATCH", "PUT"):
            return await self._write_status(request, key)
        return _json(405, _status(405, "MethodNotAllowed", "not supported by the fake"))

    def _list(self, plural: str, namespace: str) -> web.Response:
        items = [o for (p, ns, _), o in sorted(self.objects.items())
                 if p == plural and (not namespace or ns == namespace)]
        return _json(200, {"kind": "List", "apiVersion": "v1",
                           "metadata": {"resourceVersion": str(self.rv)}, "items": items})

    async def _watch(self, request: web.Request, plural: str, namespace: str) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or self.rv)
        gone = _status(410, "Expired", f"too old resource version: {since} ({self.compacted_rv})")
        if since < self.compacted_rv and not self.gone_as_event:
            return _json(410, gone)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if since < self.compacted_rv:
            await resp.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return resp
        queue: asyncio.Queue[_Event | None] = asyncio.Queue()
        for event in self.history:
            if event.rv > since:
                queue.put_nowait(event)
        self._watchers.add(queue)
        try:
            while (event := await queue.get()) is not None:
                if event.plural != plural or (
                        namespace and event.obj["metadata"].get("namespace") != namespace):
                    continue
                line = json.dumps({"type": event.type, "object": event.obj}).encode() + b"\n"
                await resp.write(line)
        finally:
            self._watchers.discard(queue)
        assert request.transport is not None
        request.transport.abort()  # a dropped connection, not a clean end of stream
        return resp

    async def _write_status(self, request: web.Request, key: Key) -> web.Response:
        if self.conflicts > 0:
            self.conflicts -= 1
            return _json(409, _status(409, "Conflict", "the object has been modified"))
        body = await request.json()
        current = self.objects[key]
        if request.method == "PUT":
            wanted_rv = body.get("metadata", {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                return _json(409, _status(409, "Conflict", "the object has been modified"))
            status = body.get("status")
        else:
            status = merge_patch(current.get("status"), body.get("status"))
        updated = copy.deepcopy(current)
        updated["status"] = status
        return _json(200, self.put(key[0], updated))
