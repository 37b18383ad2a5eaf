"""What a Gateway's proxies log, in the IR: access logs (`model.Listener.access_logs`) and the
health-check event log (`limits.HealthCheck.event_log_paths`).

An `AccessLog` is one log: its sink (a file, or a gRPC collector reached through a cluster:
OpenTelemetry or Envoy's access log service), its format (a text line, or JSON fields), the
CEL expressions that must all hold for a request to be logged, and when it is written (`when`:
every request, with the listener's connections that found no route; only requests; only
connections; or once per upstream request). `api.accesslog` decodes an EnvoyProxy's
`spec.telemetry` into them; `xds.translate.accesslog` turns them into Envoy's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Envoy Gateway's default format (a JSON object written as a text line), its File sink's and
# the body of its OpenTelemetry records when a setting gives no format
DEFAULT_TEXT = (
    '{"start_time":"%START_TIME%","method":"%REQ(:METHOD)%",'
    '"x-envoy-origin-path":"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%","protocol":"%PROTOCOL%",'
    '"response_code":"%RESPONSE_CODE%","response_flags":"%RESPONSE_FLAGS%",'
    '"response_code_details":"%RESPONSE_CODE_DETAILS%",'
    '"connection_termination_details":"%CONNECTION_TERMINATION_DETAILS%",'
    '"upstream_transport_failure_reason":"%UPSTREAM_TRANSPORT_FAILURE_REASON%",'
    '"bytes_received":"%BYTES_RECEIVED%","bytes_sent":"%BYTES_SENT%",'
    '"duration":"%DURATION%",'
    '"x-envoy-upstream-service-time":"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",'
    '"x-forwarded-for":"%REQ(X-FORWARDED-FOR)%","user-agent":"%REQ(USER-AGENT)%",'
    '"x-request-id":"%REQ(X-REQUEST-ID)%",":authority":"%REQ(:AUTHORITY)%",'
    '"upstream_host":"%UPSTREAM_HOST%","upstream_cluster":"%UPSTREAM_CLUSTER%",'
    '"upstream_local_address":"%UPSTREAM_LOCAL_ADDRESS%",'
    '"downstream_local_address":"%DOWNSTREAM_LOCAL_ADDRESS%",'
    '"downstream_remote_address":"%DOWNSTREAM_REMOTE_ADDRESS%",'
    '"requested_server_name":"%REQUESTED_SERVER_NAME%","route_name":"%ROUTE_NAME%"}\n')
STDOUT = "/dev/stdout"

SinkKind = Literal["File", "OpenTelemetry", "ALS-HTTP", "ALS-TCP"]
When = Literal["Any", "Route", "Listener", "Upstream"]


@dataclass(frozen=True)
class AccessLogSink:
    """Where records go: the file `path` (File), or the gRPC collector behind `cluster`
    (OpenTelemetry with its `resources` attributes, or Envoy's ALS for HTTP or TCP with the
    extra headers it logs), called with `authority`."""

    kind: SinkKind
    path: str | None = None
    cluster: str | None = None
    authority: str | None = None
    resources: tuple[tuple[str, str], ...] = ()
    log_name: str | None = None
    request_headers: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()
    response_trailers: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessLog:
    """One access log: a text line (`text`) or JSON fields (`json`, in order), written to
    `sink` when every CEL expression of `matches` holds, at the moment `when` says."""

    sink: AccessLogSink
    text: str | None = None
    json: tuple[tuple[str, str], ...] = ()
    matches: tuple[str, ...] = ()
    when: When = "Any"
