"""Log steps without Loki: which lines a query counts, conditions on counts before and after,
and the records the log collector keeps (OTLP and ALS messages as lines)."""

from __future__ import annotations

import json
from pathlib import Path

from envoy.data.accesslog.v3.accesslog_pb2 import HTTPAccessLogEntry
from envoy.service.accesslog.v3.als_pb2 import StreamAccessLogsMessage
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import (
    InstrumentationLibraryLogs,
    LogRecord,
    ResourceLogs,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from propylon.conformance import logqueries, metrics
from propylon.echo.collector import als_lines, otlp_lines
from propylon.infra.host.envoy_process import LOG_FILE
from propylon.infra.host.manager import PROXIES_DIR, proxy_dir_name
from propylon.ir.model import GatewayKey

ROUTE = {"kind": "HTTPRoute", "metadata": {"name": "hc-route", "namespace": "infra"},
         "spec": {"rules": [{"backendRefs": [{"name": "backend", "port": 8080}]}]}}


def test_a_route_name_also_matches_its_clusters() -> None:
    regex = logqueries.with_route_clusters("health_checker_type.*hc-route", [ROUTE])
    lines = ['{"health_checker_type":"HTTP","cluster_name":"infra/backend/8080/infra/btp"}',
             '{"health_checker_type":"HTTP","cluster_name":"httproute/infra/hc-route/rule/0"}',
             '{"health_checker_type":"HTTP","cluster_name":"infra/other/8080"}',
             'infra/backend/8080 without the checker']
    assert logqueries.count(lines, regex) == 2
    assert logqueries.with_route_clusters("LISTENER", [ROUTE]) == "LISTENER"


def test_counts_and_conditions() -> None:
    lines = ["LISTENER ACCESS LOG HTTP/1.1 404", "UPSTREAM [..] GET", "other"]
    assert logqueries.count(lines, "LISTENER") == 1
    assert logqueries.count(lines, None) == 3
    condition = logqueries.delta_condition("count(after) - count(before) >= 1")
    assert metrics.evaluate(condition, {"before": 2, "after": 3})
    assert not metrics.evaluate(condition, {"before": 3, "after": 3})


def test_envoy_lines_are_the_gateways_stdout(tmp_path: Path) -> None:
    key = GatewayKey("infra", "gw")
    log = tmp_path / PROXIES_DIR / proxy_dir_name(key) / LOG_FILE
    log.parent.mkdir(parents=True)
    log.write_text("a\nb\n")
    assert logqueries.envoy_lines(tmp_path, key) == ["a", "b"]


def test_the_collector_service_is_envoy_gateways() -> None:
    namespace, deployment, service = logqueries.collector_objects()
    assert namespace["metadata"]["name"] == "monitoring"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "otel-collector"
    assert {p["port"] for p in service["spec"]["ports"]} >= {4317, 9000}


def test_collector_lines() -> None:
    record = LogRecord(body=AnyValue(string_value="GET 200"), attributes=[
        KeyValue(key="method", value=AnyValue(string_value="GET"))])
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[KeyValue(key="k8s.cluster.name",
                                               value=AnyValue(string_value="c"))]),
        instrumentation_library_logs=[InstrumentationLibraryLogs(logs=[record])])])
    assert [json.loads(line) for line in otlp_lines(request)] == [{
        "body": "GET 200", "attributes": {"method": "GET"},
        "resources": {"k8s.cluster.name": "c"}}]
    message = StreamAccessLogsMessage()
    entry = HTTPAccessLogEntry()
    entry.common_properties.route_name = "r"
    message.http_logs.log_entry.append(entry)
    [line] = als_lines(message)
    assert json.loads(line)["common_properties"]["route_name"] == "r"
