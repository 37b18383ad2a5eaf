"""EnvoyProxy `spec.telemetry` decoded into access logs: formats, sinks, moments, matches, the
default when nothing is said, `disable`, and every field not applied named."""

from __future__ import annotations

from propylon.api import envoyproxy
from propylon.api.accesslog import DEFAULT, decode
from propylon.api.extauth import ServiceRef
from propylon.ir.telemetry import DEFAULT_TEXT, AccessLogSink


def _proxy(telemetry: dict[str, object]) -> envoyproxy.EnvoyProxy:
    return envoyproxy.decode({"metadata": {"name": "p", "namespace": "infra"},
                              "spec": {"telemetry": telemetry}})


def test_no_access_log_is_the_default_line_on_stdout() -> None:
    proxy = _proxy({})
    assert proxy.telemetry.access_logs == DEFAULT
    [setting] = DEFAULT
    assert setting.log.sink == AccessLogSink("File", path="/dev/stdout")
    assert setting.log.text == DEFAULT_TEXT and setting.log.when == "Any"
    assert proxy.ignored == ()


def test_disable_turns_access_logs_off() -> None:
    assert _proxy({"accessLog": {"disable": True}}).telemetry.access_logs == ()


def test_each_sink_of_each_setting_is_one_log() -> None:
    telemetry, ignored = decode({"accessLog": {"settings": [
        {"format": {"type": "JSON", "json": {"method": "%REQ(:METHOD)%"}},
         "matches": ["'x' in request.headers"], "type": "Upstream",
         "sinks": [{"type": "File", "file": {"path": "/tmp/a.log"}},
                   {"type": "OpenTelemetry", "openTelemetry": {
                       "backendRefs": [{"name": "otel", "namespace": "monitoring",
                                        "port": 4317}],
                       "resources": {"k8s.cluster.name": "c"}}}]},
        {"type": "Listener", "format": {"type": "Text", "text": "L %RESPONSE_CODE%\n"},
         "sinks": [{"type": "ALS", "als": {"backendRefs": [{"name": "als", "port": 9000}],
                                           "type": "TCP", "logName": "tcp"}}]},
    ]}}, "infra", "EnvoyProxy infra/p")
    assert ignored == []
    file, otel, als = telemetry.access_logs
    assert (file.log.sink.path, file.log.json, file.log.text, file.log.when,
            file.log.matches) == ("/tmp/a.log", (("method", "%REQ(:METHOD)%"),), None,
                                  "Upstream", ("'x' in request.headers",))
    assert otel.log.sink.kind == "OpenTelemetry"
    assert otel.log.sink.resources == (("k8s.cluster.name", "c"),)
    assert otel.collector is not None
    assert otel.collector.ref == ServiceRef("", "Service", "otel", "monitoring", 4317)
    assert otel.field == "EnvoyProxy infra/p spec.telemetry.accessLog.settings[0].sinks[1]"
    assert (als.log.sink.kind, als.log.sink.log_name, als.log.text, als.log.when) == (
        "ALS-TCP", "tcp", "L %RESPONSE_CODE%\n", "Listener")
    assert als.collector is not None and als.collector.ref is not None
    assert als.collector.ref.namespace == "infra"  # the EnvoyProxy's


def test_fields_not_applied_are_named() -> None:
    proxy = _proxy({
        "metrics": {"prometheus": {}},
        "accessLog": {"settings": [{"sinks": [
            {"type": "File"},
            {"type": "OpenTelemetry", "openTelemetry": {
                "backendRefs": [{"name": "a", "port": 1}, {"name": "b", "port": 1}],
                "backendSettings": {}}}]}]},
        "healthCheckLog": {"sinks": [{"type": "OpenTelemetry"}]},
    })
    assert proxy.ignored == (
        "spec.telemetry.accessLog.settings[0].sinks[0].file.path",
        "spec.telemetry.accessLog.settings[0].sinks[1].openTelemetry.backendRefs[1:]",
        "spec.telemetry.accessLog.settings[0].sinks[1].openTelemetry.backendSettings",
        "spec.telemetry.healthCheckLog.sinks[0]",
        "spec.telemetry.metrics",
    )
    assert len(proxy.telemetry.access_logs) == 1


def test_health_check_log_files() -> None:
    proxy = _proxy({"healthCheckLog": {"sinks": [{"type": "File",
                                                  "file": {"path": "/dev/stdout"}}]}})
    assert proxy.telemetry.health_check_log_paths == ("/dev/stdout",)
    assert proxy.telemetry.access_logs == DEFAULT
