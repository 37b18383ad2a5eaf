"""Watch streams: newline-delimited JSON events over a chunked response.

A watch starts from one of three points. With `sendInitialEvents=true` (kubectl 1.37 `wait`,
WatchList informers) or `resourceVersion` "0" or absent, it first sends an ADDED event for every
matching object; with `sendInitialEvents` it then sends the BOOKMARK annotated
`k8s.io/initial-events-end: "true"`. With any other `resourceVersion` it replays the retained
events after it, or sends one ERROR event (410 Expired) when they are gone. Then it forwards
live events, turning a MODIFIED that moves an object into or out of the selectors into ADDED or
DELETED. `allowWatchBookmarks` adds a BOOKMARK every `bookmark_interval` seconds,
`timeoutSeconds` ends the stream. Live events queued while the stream was writing go out
together in one write (a bulk apply queues thousands: one TLS record and one send each was a
tenth of the server's time). With a Table Accept header each event carries a one-row Table,
with columnDefinitions only in the first. Objects go out in the version the watch asked for
(they are stored in their kind's storage version).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from propylon.api.kinds import KindInfo
from propylon.apiserver.errors import JSON_CONTENT_TYPE, APIError, bad_request
from propylon.apiserver.events import Event, EventHub, Expired
from propylon.apiserver.registry import Registry, storage_key
from propylon.apiserver.selectors import selectors
from propylon.apiserver.table import to_table

# how often a quiet watch checks whether its client went away
_DISCONNECT_POLL = 5.0


class _Stream:
    """Writes events for one watch, converting objects to Tables when asked."""

    def __init__(self, response: web.StreamResponse, info: KindInfo, table: bool,
                 include_object: str) -> None:
        self.response = response
        self.info = info
        self.table = table
        self.include_object = include_object
        self.first_table = True

    def line(self, event_type: str, obj: dict[str, Any]) -> bytes:
        if event_type in ("ADDED", "MODIFIED", "DELETED"):
            if obj.get("apiVersion") != self.info.api_version:  # stored in another version
                obj = {**obj, "apiVersion": self.info.api_version}
            if self.table:
                obj = to_table(self.info, [obj], obj["metadata"].get("resourceVersion", ""),
                               self.include_object, with_columns=self.first_table)
                self.first_table = False
        return (json.dumps({"type": event_type, "object": obj}, separators=(",", ":"))
                + "\n").encode()

    async def send(self, event_type: str, obj: dict[str, Any]) -> None:
        await self.response.write(self.line(event_type, obj))

    async def bookmark(self, resource_version: int, initial_end: bool = False) -> None:
        metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        await self.send("BOOKMARK", {"kind": self.info.kind,
                                     "apiVersion": self.info.api_version, "metadata": metadata})


def _translate(event: Event, visible: Callable[[dict[str, Any] | None], bool]
               ) -> str | None:
    """The event type a watcher with these selectors sees, or None."""
    now, before = visible(event.object), visible(event.old)
    if event.type == "ADDED":
        return "ADDED" if now else None
    if event.type == "DELETED":
        return "DELETED" if before or now else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


async def serve_watch(request: web.Request, info: KindInfo, namespace: str | None,
                      registry: Registry, hub: EventHub, table: bool,
                      bookmark_interval: float) -> web.StreamResponse:
    query = dict(request.query)
    match = selectors(query, info.kind)

    def visible(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        # cluster-scoped kinds come with namespace "" and objects without one
        if namespace and obj.get("metadata", {}).get("namespace") != namespace:
            return False
        return match(obj)

    send_initial = query.get("sendInitialEvents") == "true"
    if send_initial and query.get("resourceVersionMatch") != "NotOlderThan":
        raise bad_request("sendInitialEvents=true requires resourceVersionMatch=NotOlderThan")
    requested = query.get("resourceVersion") or ""
    timeout = _number(query, "timeoutSeconds")
    allow_bookmarks = query.get("allowWatchBookmarks") == "true"
    initial: list[dict[str, Any]] = []
    start_rv = registry.storage.resource_version
    expired: Expired | None = None
    queue: asyncio.Queue[Event | None] | None = None
    replay: list[Event] = []
    try:
        if send_initial or requested in ("", "0"):
            initial = registry.list(info, namespace, match)
            replay, queue = hub.subscribe(storage_key(info), None)
        else:
            if not requested.isdigit():
                raise bad_request(f'invalid resourceVersion "{requested}": use a number '
                                  "from a list or an earlier event")
            replay, queue = hub.subscribe(storage_key(info), int(requested))
    except Expired as err:
        expired = err

    response = web.StreamResponse(status=200)
    response.headers["Content-Type"] = JSON_CONTENT_TYPE
    response.enable_chunked_encoding()
    await response.prepare(request)
    stream = _Stream(response, info, table, query.get("includeObject", "Metadata"))
    try:
        if expired is not None or queue is None:
            gone = APIError(410, "Expired", str(expired))
            await stream.send("ERROR", gone.status())
            return response
        for obj in initial:
            await stream.send("ADDED", obj)
        if send_initial:
            await stream.bookmark(start_rv, initial_end=True)
        for event in replay:
            if (kind := _translate(event, visible)) is not None:
                await stream.send(kind, event.object)
        await _forward(request, stream, queue, visible, registry, timeout,
                       bookmark_interval if allow_bookmarks else None)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if queue is not None:
            hub.unsubscribe(queue)
    try:
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


async def _forward(request: web.Request, stream: _Stream, queue: asyncio.Queue[Event | None],
                   visible: Callable[[dict[str, Any] | None], bool], registry: Registry,
                   timeout: float | None, bookmark_interval: float | None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout else None
    next_bookmark = loop.time() + bookmark_interval if bookmark_interval else None
    while True:
        now = loop.time()
        if deadline is not None and now >= deadline:
            return
        wait = min(t - now for t in (deadline, next_bookmark, now + _DISCONNECT_POLL)
                   if t is not None)
        try:
            event = await asyncio.wait_for(queue.get(), max(wait, 0.0))
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return
            if next_bookmark is not None and bookmark_interval and loop.time() >= next_bookmark:
                await stream.bookmark(registry.storage.resource_version)
                next_bookmark = loop.time() + bookmark_interval
            continue
        batch = [event]  # and every event queued by now, written at once
        while batch[-1] is not None and not queue.empty():
            batch.append(queue.get_nowait())
        lines = [stream.line(kind, e.object) for e in batch
                 if e is not None and (kind := _translate(e, visible)) is not None]
        if lines:
            await stream.response.write(b"".join(lines))
        if batch[-1] is None:
            return


def _number(query: dict[str, str], name: str) -> float | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise bad_request(f'invalid {name} "{value}": use a number of seconds') from None
