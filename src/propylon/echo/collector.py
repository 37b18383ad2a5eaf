"""A log collector for the access-log cases: what Envoy Gateway's CI reads through its
OpenTelemetry collector and Loki, kept in memory and served as JSON.

`serve_collector(bind, otlp_port, als_port, http_port)` receives OTLP/gRPC logs
(`opentelemetry.proto.collector.logs.v1.LogsService/Export`, on `OTLP_PORT`, default 4317) and
Envoy's access log service (`envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs`, on
`ALS_PORT`, default 9000), and answers `GET /records` on `HTTP_PORT` (default 3000) with
`{"records": [{"exporter": "OTLP", "line": ...}, ...]}` in arrival order: one line per log
record (its body and attributes for OTLP, each entry as JSON for ALS, as the collector's
Loki exporter writes them, where an ALS entry's fields such as `common_properties` appear).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import web
from envoy.service.accesslog.v3.als_pb2 import StreamAccessLogsMessage, StreamAccessLogsResponse
from google.protobuf.json_format import MessageToDict
from grpc import aio
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

OTLP_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
ALS_SERVICE = "envoy.service.accesslog.v3.AccessLogService"


def _value(value: AnyValue) -> Any:
    return MessageToDict(value).get("stringValue", MessageToDict(value))


def otlp_lines(request: ExportLogsServiceRequest) -> list[str]:
    """One JSON line per record: its body, attributes and resource attributes. The OTLP
    messages the installed protos know name a record's scope `instrumentation_library_logs`
    and its records `logs` (today's `scope_logs` and `log_records`, the same fields)."""
    out = []
    for resource_logs in request.resource_logs:
        resource = {kv.key: _value(kv.value) for kv in resource_logs.resource.attributes}
        for scope in resource_logs.instrumentation_library_logs:
            for record in scope.logs:
                out.append(json.dumps({
                    "body": _value(record.body),
                    "attributes": {kv.key: _value(kv.value) for kv in record.attributes},
                    "resources": resource}, sort_keys=True))
    return out


def als_lines(message: StreamAccessLogsMessage) -> list[str]:
    """One JSON line per HTTP or TCP entry of an ALS message."""
    entries = [*message.http_logs.log_entry, *message.tcp_logs.log_entry]
    return [json.dumps(MessageToDict(e, preserving_proto_field_name=True), sort_keys=True)
            for e in entries]


async def serve_collector(bind: str, otlp_port: int, als_port: int,
                          http_port: int) -> tuple[web.AppRunner, aio.Server]:
    """Start the receivers and the record listing; the caller stops both."""
    records: list[dict[str, str]] = []

    async def export(request: ExportLogsServiceRequest,
                     _: aio.ServicerContext) -> ExportLogsServiceResponse:
        records.extend({"exporter": "OTLP", "line": line} for line in otlp_lines(request))
        return ExportLogsServiceResponse()

    async def stream(messages: AsyncIterator[StreamAccessLogsMessage],
                     _: aio.ServicerContext) -> StreamAccessLogsResponse:
        async for message in messages:
            records.extend({"exporter": "OTLP", "line": line} for line in als_lines(message))
        return StreamAccessLogsResponse()

    async def listing(_: web.Request) -> web.Response:
        return web.json_response({"records": records})

    server = aio.server()
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(OTLP_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(
            export, request_deserializer=ExportLogsServiceRequest.FromString,
            response_serializer=ExportLogsServiceResponse.SerializeToString)}),
        grpc.method_handlers_generic_handler(ALS_SERVICE, {
            "StreamAccessLogs": grpc.stream_unary_rpc_method_handler(
                stream, request_deserializer=StreamAccessLogsMessage.FromString,
                response_serializer=StreamAccessLogsResponse.SerializeToString)})))
    for port in (otlp_port, als_port):
        if server.add_insecure_port(f"{bind}:{port}") == 0:
            raise OSError(f"cannot bind the log collector on {bind}:{port}")
    await server.start()
    app = web.Application()
    app.router.add_get("/records", listing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind, http_port).start()
    print(f"Starting log collector: OTLP {otlp_port}, ALS {als_port}, records on {http_port}",
          flush=True)
    return runner, server
