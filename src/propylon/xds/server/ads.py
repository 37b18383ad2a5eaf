"""`XdsServer`: the Aggregated Discovery Service over grpc.aio, delta xDS.

Each Envoy opens one bidirectional `DeltaAggregatedResources` stream (the bootstrap asks for
`DELTA_GRPC`, which VHDS requires; state of the world is not served). The handler is an async
generator: a reader task moves the stream's requests into a queue, the snapshot cache puts a wake
token into the same queue when the node's resources change, and the handler loop takes one item
at a time, lets the stream's state machine (`stream.AdsStream`) digest it, and yields whatever
responses are due. Everything runs on the event loop, so no locks are needed.

The server keeps, per node id, counters (per type: responses pushed, the resources they carried
and removed, ACKs and NACKs), the versions last acknowledged per type (a type's version is a
hash of the names and versions of all its resources in Envoy), and the last NACK's error
(cleared by a later ACK of the same type); `subscribe()` registers a callback told of every ACK
and NACK. After every request or snapshot change each stream reports to the cache what its
Envoy refuses (`AdsStream.rejections()`), and withdraws the report when it ends.

`start(..., tls=MutualTls(...))` serves over mutual TLS (Kubernetes mode): every client presents a
certificate from the controller's CA, and a stream whose first request announces a node id other
than the Gateway its certificate names (`tls.peer_node`) is refused with PERMISSION_DENIED.
`start_unix(path)` serves plaintext on a Unix socket (standalone mode): the socket (0600, in a
0700 directory, see `infra.host.private_sockets`) is what keeps other local users out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc
from envoy.service.discovery.v3.discovery_pb2 import (
    DeltaDiscoveryRequest,
    DeltaDiscoveryResponse,
)

from propylon.xds.server.cache import SnapshotCache
from propylon.xds.server.stream import AdsStream, Answer
from propylon.xds.server.tls import MutualTls, peer_node

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class XdsEvent:
    """An ACK or NACK from one node."""

    node_id: str
    kind: str  # "ack" | "nack"
    type_url: str
    version: str
    nonce: str
    error: str | None = None


@dataclass
class NodeCounters:
    """Per type URL: responses pushed (and the resources they added or updated, and removed),
    ACKs and NACKs received from one node."""

    pushes: Counter[str] = field(default_factory=Counter)
    resources: Counter[str] = field(default_factory=Counter)
    removals: Counter[str] = field(default_factory=Counter)
    acks: Counter[str] = field(default_factory=Counter)
    nacks: Counter[str] = field(default_factory=Counter)


class _Wake:
    """The token the snapshot cache puts in a stream's queue."""


@dataclass
class _Live:
    """A connected stream: its queue, the responses pushed and those Envoy answered."""

    queue: asyncio.Queue[object]
    pushed: int = 0
    answered: int = 0


_WAKE = _Wake()
_END = object()


# the generated gRPC servicer has no type information
class _AdsServicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    def __init__(self, server: XdsServer) -> None:
        self._server = server

    async def DeltaAggregatedResources(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[DeltaDiscoveryRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[DeltaDiscoveryResponse]:
        queue: asyncio.Queue[object] = asyncio.Queue()
        reader = asyncio.create_task(_read(request_iterator, queue))
        unwatch: Callable[[], None] | None = None
        live: _Live | None = None
        live_node = ""
        try:
            first = await queue.get()
            if not isinstance(first, DeltaDiscoveryRequest):
                return
            node_id = first.node.id
            if self._server.tls is not None:
                await self._authorize(node_id, context)
            live, live_node = _Live(queue), node_id
            self._server._live.setdefault(node_id, []).append(live)
            unwatch = self._server.cache.watch(node_id, lambda: queue.put_nowait(_WAKE))
            stream = AdsStream()
            item: object = first
            while item is not _END:
                if isinstance(item, DeltaDiscoveryRequest):
                    answer = stream.on_request(item)
                    if answer is not None:
                        live.answered += 1
                        self._server._record(node_id, answer)
                for response in stream.responses(self._server.cache.get(node_id)):
                    live.pushed += 1
                    counters = self._server.counters(node_id)
                    counters.pushes[response.type_url] += 1
                    counters.resources[response.type_url] += len(response.resources)
                    counters.removals[response.type_url] += len(response.removed_resources)
                    yield response
                self._server.cache.report(node_id, stream, stream.rejections())
                item = await queue.get()
        finally:
            if live is not None:
                self._server._live[live_node].remove(live)
            if unwatch is not None:
                unwatch()
                self._server.cache.report(node_id, stream, None)
            reader.cancel()

    @staticmethod
    async def _authorize(node_id: str, context: grpc.aio.ServicerContext) -> None:
        identity = peer_node(context.auth_context())
        if identity == node_id:
            return
        log.warning("xDS stream refused: node %r presented a certificate for %s (peer %s)",
                    node_id, f"Gateway {identity!r}" if identity else "no Gateway",
                    context.peer())
        await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                            f"the client certificate does not belong to node {node_id!r}")


async def _read(requests: AsyncIterator[DeltaDiscoveryRequest],
                queue: asyncio.Queue[object]) -> None:
    try:
        async for request in requests:
            queue.put_nowait(request)
    except (grpc.aio.AioRpcError, asyncio.CancelledError):
        pass
    finally:
        queue.put_nowait(_END)


class XdsServer:
    """ADS for every node in `cache`."""

    def __init__(self, cache: SnapshotCache) -> None:
        self.cache = cache
        self.tls: MutualTls | None = None
        self._server: grpc.aio.Server | None = None
        self._counters: dict[str, NodeCounters] = {}
        self._acked: dict[str, dict[str, str]] = {}
        self._nacks: dict[str, dict[str, str]] = {}
        self._callbacks: list[Callable[[XdsEvent], None]] = []
        self._live: dict[str, list[_Live]] = {}

    async def start(self, host: str = "127.0.0.1", port: int = 0,
                    tls: MutualTls | None = None) -> int:
        """Serve on `host:port` (0: any free port), over mutual TLS with `tls`; returns the
        bound port."""
        self.tls = tls
        return await self._serve(f"{host}:{port}", tls)

    async def start_unix(self, path: Path) -> None:
        """Serve plaintext on the Unix socket `path` (standalone mode), mode 0600: whoever can
        reach it is the owner. A socket file a killed server left there is replaced."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        await self._serve(f"unix:{path}", None)
        os.chmod(path, 0o600)

    async def _serve(self, address: str, tls: MutualTls | None) -> int:
        server = grpc.aio.server(options=[
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ])
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_AdsServicer(self), server)
        bound: int = (server.add_secure_port(address, tls.credentials()) if tls is not None
                 else server.add_insecure_port(address))
        await server.start()
        self._server = server
        return bound

    @property
    def serving(self) -> bool:
        """Whether the server was started and not stopped."""
        return self._server is not None

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving; open streams are cancelled after `grace` seconds."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def subscribe(self, callback: Callable[[XdsEvent], None]) -> None:
        """Call `callback` (on the event loop) for every ACK and NACK."""
        self._callbacks.append(callback)

    def counters(self, node_id: str) -> NodeCounters:
        """The live counters of `node_id`."""
        return self._counters.setdefault(node_id, NodeCounters())

    def pending(self, node_id: str) -> int | None:
        """What the connected streams of `node_id` still owe: responses pushed and not yet
        acknowledged or refused, plus wake-ups and requests not yet handled; None when no
        stream of that node is connected. 0 means its Envoys hold what the cache wants."""
        streams = self._live.get(node_id)
        if not streams:
            return None
        return sum(s.pushed - s.answered + s.queue.qsize() for s in streams)

    def acked_versions(self, node_id: str) -> dict[str, str]:
        """Type URL -> version last acknowledged by `node_id`."""
        return dict(self._acked.get(node_id, {}))

    def last_nack(self, node_id: str) -> str | None:
        """The error of the latest NACK of `node_id` not yet followed by an ACK of its type."""
        errors = self._nacks.get(node_id)
        return next(reversed(errors.values())) if errors else None

    def _record(self, node_id: str, answer: Answer) -> None:
        counters = self.counters(node_id)
        nacks = self._nacks.setdefault(node_id, {})
        if answer.kind == "ack":
            counters.acks[answer.type_url] += 1
            self._acked.setdefault(node_id, {})[answer.type_url] = answer.version
            nacks.pop(answer.type_url, None)
        else:
            counters.nacks[answer.type_url] += 1
            nacks.pop(answer.type_url, None)
            nacks[answer.type_url] = answer.error or ""
            log.warning("node %s rejected %s version %s: %s", node_id, answer.type_url,
                        answer.version, answer.error)
        event = XdsEvent(node_id, answer.kind, answer.type_url, answer.version, answer.nonce,
                         answer.error)
        for callback in tuple(self._callbacks):
            callback(event)
