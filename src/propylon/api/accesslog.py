"""An EnvoyProxy's `spec.telemetry.accessLog` and `spec.telemetry.healthCheckLog`, decoded.

`decode(telemetry)` returns a `Telemetry` and the fields it does not apply (paths under
`spec.telemetry`, for the status of the object referencing the EnvoyProxy). Each setting of
`accessLog.settings` gives one `ir.telemetry.AccessLog` per sink: its `format` (Text with
`text`, JSON with `json` fields; none: Envoy Gateway's default line), its `matches` (CEL
expressions that must all hold), its `type` (Route, Listener or Upstream; none: both requests
and the connections that found no route) and the sink: File (`file.path`), OpenTelemetry
(`openTelemetry.backendRefs`, one, or `host` and `port`; `resources`) or ALS
(`als.backendRefs`, one; `type` HTTP or TCP; `logName`; `http` headers to log). A gRPC sink's
collector (`Collector`) is resolved by translation, which names the cluster in the sink.
`accessLog.disable: true` turns access logs off; no `accessLog` (or no settings) keeps Envoy
Gateway's default: its default line to /dev/stdout for every request (`DEFAULT`).
`healthCheckLog.sinks` of type File give the files the health checker's events go to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from propylon.api.extauth import ServiceRef
from propylon.ir.telemetry import DEFAULT_TEXT, STDOUT, AccessLog, AccessLogSink, When

_SINK_KINDS = {"File", "OpenTelemetry", "ALS"}
_WHEN: dict[str | None, When] = {None: "Any", "Route": "Route", "Listener": "Listener",
                                 "Upstream": "Upstream"}
_ALS_HEADERS = ("requestHeaders", "responseHeaders", "responseTrailers")


@dataclass(frozen=True)
class Collector:
    """Where a gRPC sink sends records: a backendRef, or a DNS `host` and `port`."""

    ref: ServiceRef | None = None
    host: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class AccessLogSetting:
    """One access log as the EnvoyProxy asks for it; a gRPC sink's cluster is not yet named."""

    log: AccessLog
    collector: Collector | None = None
    field: str = ""  # e.g. EnvoyProxy ns/name spec.telemetry.accessLog.settings[0].sinks[0]


DEFAULT = (AccessLogSetting(AccessLog(AccessLogSink("File", path=STDOUT), text=DEFAULT_TEXT)),)


@dataclass(frozen=True)
class Telemetry:
    """What a Gateway's proxies log. `explicit`: the EnvoyProxy says it (else a Gateway's
    EnvoyProxy merged over its class's keeps the class's)."""

    access_logs: tuple[AccessLogSetting, ...] = DEFAULT
    health_check_log_paths: tuple[str, ...] = ()
    explicit: bool = field(default=False, compare=False)


def decode(telemetry: Mapping[str, Any], namespace: str,
           owner: str = "") -> tuple[Telemetry, list[str]]:
    """`spec.telemetry`'s access and health-check logs (backendRefs without a namespace are in
    the EnvoyProxy's `namespace`; `owner` names it in each setting's `field`), and the fields
    not applied."""
    ignored = [f"spec.telemetry.{k}" for k in telemetry
               if k not in ("accessLog", "healthCheckLog")]
    raw = telemetry.get("accessLog") or {}
    logs: tuple[AccessLogSetting, ...] = DEFAULT
    if raw.get("disable"):
        logs = ()
    elif raw.get("settings"):
        found: list[AccessLogSetting] = []
        for i, setting in enumerate(raw["settings"]):
            found.extend(_setting(setting, f"spec.telemetry.accessLog.settings[{i}]",
                                  namespace, ignored, owner))
        logs = tuple(found)
    ignored.extend(f"spec.telemetry.accessLog.{k}" for k in raw
                   if k not in ("disable", "settings"))
    paths = []
    health = telemetry.get("healthCheckLog") or {}
    for i, sink in enumerate(health.get("sinks") or ()):
        path = (sink.get("file") or {}).get("path")
        if sink.get("type", "File") == "File" and path:
            paths.append(str(path))
        else:
            ignored.append(f"spec.telemetry.healthCheckLog.sinks[{i}]")
    ignored.extend(f"spec.telemetry.healthCheckLog.{k}" for k in health if k != "sinks")
    return Telemetry(logs, tuple(paths), explicit=bool(raw or health)), ignored


def _setting(setting: Mapping[str, Any], where: str, namespace: str,
             ignored: list[str], owner: str) -> list[AccessLogSetting]:
    fmt = setting.get("format") or {}
    text: str | None = DEFAULT_TEXT
    json: tuple[tuple[str, str], ...] = ()
    if fmt.get("type") == "JSON":
        text, json = None, tuple((str(k), str(v)) for k, v in (fmt.get("json") or {}).items())
    elif fmt.get("text"):
        text = str(fmt["text"])
    when = _WHEN.get(setting.get("type"))
    if when is None:
        ignored.append(f"{where}.type")
        return []
    ignored.extend(f"{where}.{k}" for k in setting if k not in ("format", "matches", "type",
                                                                "sinks"))
    base = AccessLog(AccessLogSink("File"), text, json,
                     tuple(str(m) for m in setting.get("matches") or ()), when)
    out = []
    for j, sink in enumerate(setting.get("sinks") or ()):
        here = f"{where}.sinks[{j}]"
        decoded = _sink(sink, here, namespace, ignored)
        if decoded is not None:
            out.append(AccessLogSetting(AccessLog(decoded[0], base.text, base.json,
                                                  base.matches, base.when), decoded[1],
                                       f"{owner} {here}".strip()))
    return out


def _sink(sink: Mapping[str, Any], where: str, namespace: str,
          ignored: list[str]) -> tuple[AccessLogSink, Collector | None] | None:
    kind = sink.get("type")
    if kind not in _SINK_KINDS:
        ignored.append(f"{where}.type")
        return None
    if kind == "File":
        path = (sink.get("file") or {}).get("path")
        if not path:
            ignored.append(f"{where}.file.path")
            return None
        return AccessLogSink("File", path=str(path)), None
    section = sink.get("openTelemetry" if kind == "OpenTelemetry" else "als") or {}
    prefix = f"{where}.{'openTelemetry' if kind == 'OpenTelemetry' else 'als'}"
    collector = _collector(section, prefix, namespace, ignored)
    if collector is None:
        return None
    if kind == "OpenTelemetry":
        ignored.extend(f"{prefix}.{k}" for k in section
                       if k not in ("backendRefs", "host", "port", "resources"))
        resources = tuple(sorted((str(k), str(v))
                                 for k, v in (section.get("resources") or {}).items()))
        return AccessLogSink("OpenTelemetry", resources=resources), collector
    ignored.extend(f"{prefix}.{k}" for k in section
                   if k not in ("backendRefs", "type", "logName", "http"))
    http = section.get("http") or {}
    ignored.extend(f"{prefix}.http.{k}" for k in http if k not in _ALS_HEADERS)

    def headers(key: str) -> tuple[str, ...]:
        return tuple(map(str, http.get(key) or ()))

    return AccessLogSink("ALS-TCP" if section.get("type") == "TCP" else "ALS-HTTP",
                         log_name=section.get("logName"),
                         request_headers=headers("requestHeaders"),
                         response_headers=headers("responseHeaders"),
                         response_trailers=headers("responseTrailers")), collector


def _collector(section: Mapping[str, Any], where: str, namespace: str,
               ignored: list[str]) -> Collector | None:
    refs = section.get("backendRefs") or ()
    if len(refs) > 1:
        ignored.append(f"{where}.backendRefs[1:]")
    if refs:
        ref = refs[0]
        port = ref.get("port")
        return Collector(ServiceRef(str(ref.get("group") or ""), str(ref.get("kind") or "Service"),
                                    str(ref.get("name") or ""), str(ref.get("namespace") or namespace),
                                    int(port) if port is not None else None))
    if section.get("host"):
        return Collector(host=str(section["host"]), port=int(section.get("port") or 4317))
    ignored.append(f"{where}.backendRefs")
    return None
