"""The echo backend answers the way the conformance harness expects echo-basic to answer."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from propylon.echo import canonical_header_name, parse_go_duration, parse_listen, serve_echo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def echo_url(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("NAMESPACE", "gateway-conformance-infra")
    monkeypatch.setenv("POD_NAME", "infra-backend-v1-abc-def")
    port = _free_port()
    runner = await serve_echo("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_echo_reports_request_and_context(echo_url: str) -> None:
    port = int(echo_url.rsplit(":", 1)[1])
    request = (
        b"POST /some/path?a=1&b=two HTTP/1.1\r\nHost: example.com\r\n"
        b"x-custom: one\r\nX-Custom: two\r\nContent-Length: 7\r\nConnection: close\r\n\r\nignored"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    reply = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: application/json" in head
    body = json.loads(payload)
    assert body["path"] == "/some/path?a=1&b=two"
    assert body["host"] == "example.com"
    assert body["method"] == "POST"
    assert body["proto"] == "HTTP/1.1"
    assert body["headers"]["X-Custom"] == ["one", "two"]
    assert "Host" not in body["headers"]
    assert body["namespace"] == "gateway-conformance-infra"
    assert body["pod"] == "infra-backend-v1-abc-def"


async def test_echo_set_header_is_copied_to_response(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            echo_url, headers={"X-Echo-Set-Header": "X-Foo:bar, X-Baz:qux,X-Foo:again"}
        ) as response:
            assert response.headers["X-Foo"] == "bar,again"
            assert response.headers["X-Baz"] == "qux"


async def test_status_path_answers_that_status(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{echo_url}/status/503") as response:
            assert response.status == 503
        async with session.get(f"{echo_url}/status/abc") as response:
            assert response.status == 400
        async with session.get(f"{echo_url}/health") as response:
            assert response.status == 200


async def test_delay_waits_before_answering(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{echo_url}/?delay=300ms") as response:
            assert response.status == 200
        assert time.monotonic() - started >= 0.3
        async with session.get(f"{echo_url}/?delay=soon") as response:
            assert response.status == 500
            assert "invalid duration" in (await response.json())["message"]


async def test_each_echo_logs_the_line_mirror_tests_search_for(
    echo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{echo_url}/mirror?gateway-api-conformance-request-id=42"):
            pass
    out = capsys.readouterr().out
    assert "Echoing back request made to /mirror?gateway-api-conformance-request-id=42 to client (127.0.0.1:" in out


async def test_websocket_frames_are_echoed(echo_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{echo_url}/ws") as ws:
            await ws.send_str("hello")
            assert (await ws.receive(timeout=10)).data == "hello"


def test_go_durations_and_canonical_names() -> None:
    assert parse_go_duration("1m30s") == 90.0
    assert parse_go_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_go_duration("5")
    assert canonical_header_name("x-echo-SET-header") == "X-Echo-Set-Header"
    assert parse_listen("127.0.0.1:9001") == ("127.0.0.1", 9001)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("9001")


def test_run_serves_until_sigterm() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from propylon.echo import run; run('127.0.0.1:{port}')"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                    reply = b""
                    while chunk := conn.recv(65536):
                        reply += chunk
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "echo server never started listening"
                time.sleep(0.05)
        assert reply.startswith(b"HTTP/1.1 200")
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["path"] == "/x"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None
        assert "Echoing back request made to /x to client" in process.stdout.read()
    finally:
        process.kill()
        process.wait()
