"""Out-of-band ORCA load reports, as Envoy Gateway's backend-utilization image serves them.

`serve_orca(bind, port, cpu)` starts a gRPC server (cleartext HTTP/2) with the ORCA service
`xds.service.orca.v3.OpenRcaService`: `StreamCoreMetrics` answers a client's
`OrcaLoadReportRequest` with an `OrcaLoadReport` (`cpu_utilization` cpu, `rps_fractional`
1000, the in-band report's values) at once and then every `report_interval` the client asks
for (at least 100 ms; 10 s when it asks for none), until the client goes away. A
client-side weighted round robin balancer with out-of-band reporting (Envoy's
`enable_oob_load_report`) weighs the endpoint by these reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from grpc import aio
from xds.data.orca.v3.orca_load_report_pb2 import (  # type: ignore[import-untyped]
    OrcaLoadReport,
)
from xds.service.orca.v3.orca_pb2 import OrcaLoadReportRequest  # type: ignore[import-untyped]

from propylon.echo.grpcserver import _address

SERVICE = "xds.service.orca.v3.OpenRcaService"
MIN_INTERVAL_S = 0.1
DEFAULT_INTERVAL_S = 10.0


def interval_s(request: OrcaLoadReportRequest) -> float:
    """The period between two reports the client asked for, at least MIN_INTERVAL_S."""
    if not request.HasField("report_interval"):
        return DEFAULT_INTERVAL_S
    return max(float(request.report_interval.ToTimedelta().total_seconds()), MIN_INTERVAL_S)


def _handler(cpu: float) -> grpc.GenericRpcHandler:
    async def stream(request: OrcaLoadReportRequest,
                     _: aio.ServicerContext) -> AsyncIterator[OrcaLoadReport]:
        while True:
            yield OrcaLoadReport(cpu_utilization=cpu, rps_fractional=1000)
            await asyncio.sleep(interval_s(request))

    return grpc.method_handlers_generic_handler(SERVICE, {
        "StreamCoreMetrics": grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=OrcaLoadReportRequest.FromString,
            response_serializer=OrcaLoadReport.SerializeToString)})


async def serve_orca(bind: str, port: int, cpu: float) -> aio.Server:
    """Start the ORCA service on bind:port; the caller stops it with `await server.stop(None)`."""
    server = aio.server()
    server.add_generic_rpc_handlers((_handler(cpu),))
    address = _address(bind, port)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot bind the ORCA service on {address}")
    await server.start()
    print(f"Starting ORCA service, listening on port {port} (grpc)", flush=True)
    return server
