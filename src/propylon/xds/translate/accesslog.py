"""IR access logs (`ir.telemetry`) -> Envoy's `AccessLog` messages, and the health checker's
event log.

`for_requests(logs)` are the connection manager's (`when` Any or Route: once per request),
and also a TCP proxy's (once per connection) and a UDP proxy's (once per session), as Envoy
Gateway gives them; `for_upstream(logs)` the router's `upstream_log` (once per upstream
request), and `for_listener(logs)` the listener's (`when` Listener: once per connection; Any: only the
connections whose request found no route, flag NR, which the connection manager's logs do
not cover). Each is built as Envoy Gateway builds it: a File sink is Envoy's file logger with
the text line or the JSON fields; an OpenTelemetry sink is Envoy's OpenTelemetry logger over
gRPC to its cluster (the text as the record's body, JSON fields as its attributes, the
resources as its resource attributes); an ALS sink is Envoy's HTTP or TCP gRPC access log
service. The CEL expressions of `matches` are Envoy's CEL filters, all of which must hold.
Formats using `%METADATA(...)%` or `%REQ_WITHOUT_QUERY(...)%` get the formatter extension
they need. `health_event_loggers(paths)` writes the events of a cluster's health checker to
files.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.accesslog.v3 import accesslog_pb2 as al
from envoy.config.core.v3.base_pb2 import DataSource
from envoy.config.core.v3.config_source_pb2 import ApiVersion
from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.config.core.v3.grpc_service_pb2 import GrpcService
from envoy.extensions.access_loggers.file.v3.file_pb2 import FileAccessLog
from envoy.extensions.access_loggers.filters.cel.v3.cel_pb2 import ExpressionFilter
from envoy.extensions.access_loggers.grpc.v3 import als_pb2
from envoy.extensions.access_loggers.open_telemetry.v3.logs_service_pb2 import (
    OpenTelemetryAccessLogConfig,
)
from envoy.extensions.formatter.metadata.v3.metadata_pb2 import Metadata
from envoy.extensions.formatter.req_without_query.v3.req_without_query_pb2 import (
    ReqWithoutQuery,
)
from envoy.extensions.health_check.event_sinks.file.v3.file_pb2 import HealthCheckEventFileSink
from google.protobuf.struct_pb2 import Struct
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from propylon.ir.telemetry import AccessLog
from propylon.xds.translate.messages import pack

OTEL_LOG_NAME = "otel_envoy_accesslog"
ALS_LOG_NAME = "accesslog"
_FORMATTERS = (("%METADATA(", "envoy.formatter.metadata", Metadata()),
               ("%REQ_WITHOUT_QUERY(", "envoy.formatter.req_without_query", ReqWithoutQuery()))
_NO_ROUTE = al.AccessLogFilter(response_flag_filter=al.ResponseFlagFilter(flags=["NR"]))


def for_requests(logs: Iterable[AccessLog]) -> list[al.AccessLog]:
    return [_access_log(log) for log in logs if log.when in ("Any", "Route")]


def for_upstream(logs: Iterable[AccessLog]) -> list[al.AccessLog]:
    return [_access_log(log) for log in logs if log.when == "Upstream"]


def for_listener(logs: Iterable[AccessLog]) -> list[al.AccessLog]:
    return [_access_log(log, no_route=log.when == "Any")
            for log in logs if log.when in ("Any", "Listener")]


def health_event_loggers(paths: Iterable[str]) -> list[TypedExtensionConfig]:
    return [TypedExtensionConfig(name="envoy.health_check.event_sink.file",
                                 typed_config=pack(HealthCheckEventFileSink(event_log_path=p)))
            for p in paths]


def _formatters(texts: Iterable[str]) -> list[TypedExtensionConfig]:
    joined = "".join(texts)
    return [TypedExtensionConfig(name=name, typed_config=pack(config))
            for operator, name, config in _FORMATTERS if operator in joined]


def _filter(log: AccessLog, no_route: bool) -> al.AccessLogFilter | None:
    filters = [al.AccessLogFilter(extension_filter=al.ExtensionFilter(
        name="envoy.access_loggers.extension_filters.cel",
        typed_config=pack(ExpressionFilter(expression=m)))) for m in log.matches]
    if no_route:
        filters.append(_NO_ROUTE)
    if len(filters) > 1:
        return al.AccessLogFilter(and_filter=al.AndFilter(filters=filters))
    return filters[0] if filters else None


def _access_log(log: AccessLog, no_route: bool = False) -> al.AccessLog:
    sink = log.sink
    if sink.kind == "File":
        name, config = "envoy.access_loggers.file", _file(log)
    elif sink.kind == "OpenTelemetry":
        name, config = "envoy.access_loggers.open_telemetry", _open_telemetry(log)
    elif sink.kind == "ALS-TCP":
        name, config = "envoy.access_loggers.tcp_grpc", als_pb2.TcpGrpcAccessLogConfig(
            common_config=_common(log, sink.log_name or ALS_LOG_NAME))
    else:
        name, config = "envoy.access_loggers.http_grpc", als_pb2.HttpGrpcAccessLogConfig(
            common_config=_common(log, sink.log_name or ALS_LOG_NAME),
            additional_request_headers_to_log=sink.request_headers,
            additional_response_headers_to_log=sink.response_headers,
            additional_response_trailers_to_log=sink.response_trailers)
    out = al.AccessLog(name=name, typed_config=pack(config))
    found = _filter(log, no_route)
    if found is not None:
        out.filter.CopyFrom(found)
    return out


def _file(log: AccessLog) -> FileAccessLog:
    out = FileAccessLog(path=log.sink.path or "")
    fmt = out.log_format
    if log.text is not None:
        fmt.text_format_source.CopyFrom(DataSource(inline_string=log.text))
        fmt.formatters.extend(_formatters([log.text]))
    else:
        fields = Struct()
        fields.update(dict(log.json))
        fmt.json_format.CopyFrom(fields)
        fmt.formatters.extend(_formatters(v for _, v in log.json))
    return out


def _common(log: AccessLog, log_name: str) -> als_pb2.CommonGrpcAccessLogConfig:
    return als_pb2.CommonGrpcAccessLogConfig(
        log_name=log_name, transport_api_version=ApiVersion.V3,
        grpc_service=GrpcService(envoy_grpc=GrpcService.EnvoyGrpc(
            cluster_name=log.sink.cluster or "", authority=log.sink.authority or "")))


def _values(pairs: Iterable[tuple[str, str]]) -> KeyValueList:
    return KeyValueList(values=[KeyValue(key=k, value=AnyValue(string_value=v))
                                for k, v in pairs])


def _open_telemetry(log: AccessLog) -> OpenTelemetryAccessLogConfig:
    out = OpenTelemetryAccessLogConfig(
        common_config=_common(log, OTEL_LOG_NAME),
        resource_attributes=_values(log.sink.resources),
        attributes=_values(log.json))
    if log.text is not None:
        out.body.CopyFrom(AnyValue(string_value=log.text))
    out.formatters.extend(_formatters([log.text or "", *(v for _, v in log.json)]))
    return out


