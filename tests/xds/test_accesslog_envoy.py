"""Access logs through a real Envoy: Envoy Gateway's default format is one JSON object per
request; a request with the matched header writes one line in the
configured text format to the log file, a request without it writes none there; the same
request reaches an OpenTelemetry collector (the echo package's) as a record whose body is the
formatted line and whose resource attributes are the configured ones. A failing health check
writes its events, as JSON lines naming the checker type and the cluster, to its event log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from gateway_api_support import KEY, NODE, Echo, Stack, echo_backend, route, service
from test_httproute_extended_envoy import request, until
from xds_support import EnvoyFactory, XdsFixture, free_port, wait_for

from propylon.api.accesslog import DEFAULT
from propylon.echo.collector import serve_collector
from propylon.ir import limits as lim
from propylon.ir import telemetry as tel
from propylon.ir.model import Cluster, Connection, Endpoint
from propylon.translate import translate
from propylon.xds.translate import translate as to_envoy

COLLECTOR = "accesslog/monitoring/otel/4317"


@pytest.fixture
async def app() -> AsyncIterator[Echo]:
    async with echo_backend("app") as echo:
        yield echo


@pytest.fixture
async def collector() -> AsyncIterator[tuple[int, int]]:
    otlp, http = free_port(), free_port()
    runner, server = await serve_collector("127.0.0.1", otlp, free_port(), http)
    yield otlp, http
    await server.stop(None)
    await runner.cleanup()


async def _records(session: aiohttp.ClientSession, port: int) -> list[dict[str, str]]:
    async with session.get(f"http://127.0.0.1:{port}/records") as response:
        return list((await response.json())["records"])


async def test_a_logged_request_is_one_line_in_the_format_and_one_record(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo, tmp_path: Path,
        collector: tuple[int, int]) -> None:
    otlp_port, records_port = collector
    log_file = tmp_path / "access.log"
    text = "LOGGED %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%\n"
    matches = ("'x-log' in request.headers",)
    logs = (
        tel.AccessLog(tel.AccessLogSink("File", path=str(log_file)), text, matches=matches),
        tel.AccessLog(tel.AccessLogSink("OpenTelemetry", cluster=COLLECTOR,
                                        resources=(("k8s.cluster.name", "propylon"),)),
                      text, matches=matches),
    )
    stack = Stack(objects=[*service("app", app.port), route("web", {"rules": [
        {"backendRefs": [{"name": "app", "port": 8080}]}]})])
    gateway = translate(stack.snapshot()).gateways[KEY]
    gateway = replace(gateway, listeners=tuple(replace(li, access_logs=logs)
                                               for li in gateway.listeners),
                      clusters=(*gateway.clusters, Cluster(
                          COLLECTOR, (Endpoint("127.0.0.1", otlp_port),), "h2c")))
    xds.cache.set(NODE, to_envoy(gateway))
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/quiet", 200)
        assert (await request(session, port, "/logged", {"x-log": "1"}))[0] == 200

        async def written() -> bool:
            return log_file.exists() and "LOGGED" in log_file.read_text()

        await wait_for(written, what="the access log line")
        assert log_file.read_text().splitlines() == ["LOGGED GET /logged 200"]

        async def received() -> bool:
            return bool(await _records(session, records_port))

        await wait_for(received, what="the OpenTelemetry record")
        [record] = await _records(session, records_port)
        line = json.loads(record["line"])
        assert line["body"] == "LOGGED GET /logged 200\n"
        assert line["resources"]["k8s.cluster.name"] == "propylon"


async def test_health_check_events_are_written_to_the_event_log(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo, tmp_path: Path) -> None:
    events = tmp_path / "health.log"
    stack = Stack(objects=[*service("app", app.port), route("web", {"rules": [
        {"backendRefs": [{"name": "app", "port": 8080}]}]})])
    gateway = translate(stack.snapshot()).gateways[KEY]
    failing = lim.HealthCheck(lim.ActiveHealthCheck("HTTP", interval_ms=200,
                                                    path="/status/418",
                                                    expected_statuses=(200,)),
                              event_log_paths=(str(events),))
    gateway = replace(gateway, clusters=tuple(
        replace(c, connection=Connection(health_check=failing)) for c in gateway.clusters))
    xds.cache.set(NODE, to_envoy(gateway))
    await envoy_factory(NODE, xds.port)

    async def logged() -> bool:
        return events.exists() and "health_checker_type" in events.read_text()

    await wait_for(logged, what="a health-check event")
    event = json.loads(events.read_text().splitlines()[0])
    assert event["health_checker_type"] == "HTTP"
    assert event["cluster_name"] == gateway.clusters[0].name


async def test_the_default_line_is_a_json_object_per_request(
        xds: XdsFixture, envoy_factory: EnvoyFactory, app: Echo, tmp_path: Path) -> None:
    """Envoy Gateway's default format, here to a file instead of stdout: one JSON object per
    request, naming the method, path, status and the route entry."""
    log_file = tmp_path / "access.log"
    [default] = DEFAULT
    logs = (replace(default.log, sink=replace(default.log.sink, path=str(log_file))),)
    stack = Stack(objects=[*service("app", app.port), route("web", {"rules": [
        {"backendRefs": [{"name": "app", "port": 8080}]}]})])
    gateway = translate(stack.snapshot()).gateways[KEY]
    gateway = replace(gateway, listeners=tuple(replace(li, access_logs=logs)
                                               for li in gateway.listeners))
    xds.cache.set(NODE, to_envoy(gateway))
    await envoy_factory(NODE, xds.port)
    port = stack.port()
    async with aiohttp.ClientSession() as session:
        await until(session, port, "/first", 200)
        assert (await request(session, port, "/second?q=1"))[0] == 200

        async def written() -> bool:
            return log_file.exists() and "/second" in log_file.read_text()

        await wait_for(written, what="the default access log line")
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    last = lines[-1]
    assert (last["method"], last["x-envoy-origin-path"], last["response_code"]) == (
        "GET", "/second?q=1", "200")
    assert last["route_name"].startswith("httproute/default/web/rule/0")
