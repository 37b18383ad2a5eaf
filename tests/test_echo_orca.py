"""The echo's out-of-band ORCA service: a report at once, then one per requested period."""

from __future__ import annotations

import socket

from google.protobuf.duration_pb2 import Duration
from grpc import aio
from xds.data.orca.v3.orca_load_report_pb2 import OrcaLoadReport
from xds.service.orca.v3.orca_pb2 import OrcaLoadReportRequest

from propylon.echo.orca import SERVICE, serve_orca


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_stream_core_metrics_reports_the_cpu_utilization_repeatedly() -> None:
    port = _free_port()
    server = await serve_orca("127.0.0.1", port, 0.1)
    try:
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = channel.unary_stream(
                f"/{SERVICE}/StreamCoreMetrics",
                request_serializer=OrcaLoadReportRequest.SerializeToString,
                response_deserializer=OrcaLoadReport.FromString)
            call = stream(OrcaLoadReportRequest(report_interval=Duration(nanos=100_000_000)))
            reports = []
            async for report in call:
                reports.append(report)
                if len(reports) == 3:
                    call.cancel()
                    break
    finally:
        await server.stop(None)
    assert [(round(r.cpu_utilization, 3), r.rps_fractional) for r in reports] == [(0.1, 1000)] * 3
