"""gRPC requests to a Gateway, made the way the harness makes them (`utils/grpc`).

`call(address, port, method, authority, metadata)` opens a new insecure (h2c) channel, with
`:authority` overridden by `grpc.default_authority` when the case gives one, makes one unary
call of `method` (the full path `/<service>/<method>`) with an empty `EchoRequest`, and returns
a `GRPCResponse`: the status code name (`OK`, `UNIMPLEMENTED`, ...) and, on success, what the
echo backend asserted it saw.

`compare(expect, response, method)` applies the harness's checks: the expected `grpcStatus`
(`OK`, `Unimplemented`, or `notOK` for any failure), and on OK the echoed fully-qualified
method, namespace and backend pod prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from grpc import aio

from propylon.echo.grpcservice import EchoRequest, EchoResponse

REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GRPCResponse:
    code: str  # grpc.StatusCode name
    details: str = ""
    method: str = ""
    namespace: str = ""
    pod: str = ""
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _target(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


async def call(address: str, port: int, method: str, authority: str | None = None,
               metadata: Mapping[str, str] | None = None) -> GRPCResponse:
    options = [("grpc.default_authority", authority)] if authority else []
    async with aio.insecure_channel(_target(address, port), options=options) as channel:
        rpc = channel.unary_unary(method, request_serializer=EchoRequest.SerializeToString,
                                  response_deserializer=EchoResponse.FromString)
        try:
            response = await rpc(EchoRequest(), timeout=REQUEST_TIMEOUT_S, metadata=tuple(
                (str(k).lower(), str(v)) for k, v in (metadata or {}).items()))
        except aio.AioRpcError as err:
            return GRPCResponse(err.code().name, err.details() or "")
        except asyncio.TimeoutError:
            return GRPCResponse(grpc.StatusCode.DEADLINE_EXCEEDED.name, "timed out")
    a = response.assertions
    return GRPCResponse("OK", "", a.fully_qualified_method, a.context.namespace, a.context.pod,
                        tuple((h.key, h.value) for h in a.headers))


def compare(expect: Mapping[str, object], response: GRPCResponse, method: str) -> str | None:
    """None when `response` is what `expect` describes, else the reason."""
    wanted = str(expect.get("grpcStatus", "OK"))
    if wanted == "notOK":
        return "expected a failed call, got OK" if response.code == "OK" else None
    if response.code.replace("_", "").lower() != wanted.lower():
        return f"expected gRPC status {wanted}, got {response.code} ({response.details})"
    if response.code != "OK":
        return None
    if response.method != method:
        return f"expected the backend to see method {method}, it saw {response.method!r}"
    namespace = str(expect.get("namespace", ""))
    if response.namespace != namespace:
        return f"expected namespace {namespace!r}, got {response.namespace!r}"
    backend = str(expect.get("backend") or "")
    if not response.pod.startswith(backend):
        return f"expected pod of backend {backend!r}, got {response.pod!r}"
    return None
