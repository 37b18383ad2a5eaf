"""The echo backend answers the way the conformance harness expects echo-basic to answer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propylon.echo.command import parse_backend, parse_listen
from propylon.echo.httpserver import (
    EchoConfig,
    canonical_header_name,
    parse_go_duration,
    serve,
    serve_echo,
)
from tests.certificates import cert_pem, certificate, key_pem


def _free_port() -> int:
    return _free_port_on("127.0.0.1")


def _free_port_on(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
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


async def test_a_named_quiet_echo_answers_as_its_service_and_logs_no_requests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`propylon up --echo backend-1=HOST:PORT`: replies name backend-1 (over what the
    environment says) and no line per request reaches the terminal."""
    monkeypatch.setenv("POD_NAME", "from-env")
    monkeypatch.setenv("INGRESS_NAME", "ingress-from-env")
    host, port, context = parse_backend(f"backend-1=127.0.0.1:{_free_port()}")
    runner = await serve_echo(host, port, context, log_requests=False)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/hello") as response:
                echoed = await response.json()
    finally:
        await runner.cleanup()
    assert (echoed["service"], echoed["pod"], echoed["namespace"], echoed["ingress"]) == (
        "backend-1", "backend-1", "default", "ingress-from-env")
    assert "Echoing back" not in capsys.readouterr().out


def test_backend_names_and_their_errors() -> None:
    assert parse_backend("127.0.0.1:9001") == ("127.0.0.1", 9001, None)
    assert parse_backend("team-a/api=[::1]:80") == (
        "::1", 80, {"namespace": "team-a", "service": "api", "pod": "api"})
    with pytest.raises(ValueError, match="backend-1=127.0.0.1:9001"):
        parse_backend("backend-1=9001")
    with pytest.raises(ValueError, match="NAMESPACE/SERVICE"):
        parse_backend("a/b/c=127.0.0.1:9001")


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
        [sys.executable, "-c", f"from propylon.echo.command import run; run('127.0.0.1:{port}')"],
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


# --- the echo-basic-like server: h2c, HTTPS, the retry simulator, env-driven startup ---------


def _certificate(subject: str, issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None, *,
                 dns: str | None = None, client: bool = False) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = certificate(key, subject, hosts=(dns,) if dns else (), signer=issuer[1] if issuer else None,
                       issuer=issuer[0].subject if issuer else None, ca=issuer is None, client=client)
    return cert, key


def _write_pair(directory: Path, stem: str, pair: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> tuple[Path, Path]:
    crt, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    crt.write_text(cert_pem(pair[0]))
    key.write_text(key_pem(pair[1], fmt=serialization.PrivateFormat.TraditionalOpenSSL))
    return crt, key


@dataclass
class _Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> _Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = _certificate("echo test CA", None)
    ca_path, _ = _write_pair(directory, "ca", ca)
    server = _certificate("abc.example.com", ca, dns="abc.example.com")
    server_cert, server_key = _write_pair(directory, "server", server)
    client_cert, client_key = _write_pair(directory, "client", _certificate("client", ca, client=True))
    return _Pki(ca_path, server_cert, server_key, client_cert, client_key)


@pytest.fixture
async def echo_server(pki: _Pki) -> AsyncIterator[tuple[int, int, int]]:
    """(http, h2c, https) ports of a full echo server with client-certificate verification."""
    config = EchoConfig(
        bind="127.0.0.1", http_port=0, h2c_port=0, https_port=0,
        tls_cert=str(pki.server_cert), tls_key=str(pki.server_key), tls_client_cas=str(pki.ca),
        context={"namespace": "gateway-conformance-infra", "ingress": "", "service": "",
                 "pod": "infra-backend-v3-abc-def"},
    )
    server = await serve(config)
    try:
        http, h2c, https = server.ports()
        yield http, h2c, https
    finally:
        await server.close()


async def _http1(port: int, request: bytes, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None) -> tuple[bytes, bytes]:
    """Send one raw HTTP/1.1 request with `Connection: close`; (head, body) of the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context,
                                                   server_hostname=server_hostname)
    try:
        writer.write(request)
        reply = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


async def _h2_get(port: int, path: str, authority: str, ssl_context: ssl.SSLContext | None = None,
                  server_hostname: str | None = None, window: int | None = None) -> tuple[dict[str, str], bytes]:
    """One HTTP/2 GET on a fresh connection (prior knowledge, or TLS with ALPN h2).

    `window` shrinks the client's initial stream window, so the server must wait for updates.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context,
                                                   server_hostname=server_hostname)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    if window is not None:
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    conn.send_headers(1, [(":method", "GET"), (":path", path), (":authority", authority),
                          (":scheme", "https" if ssl_context else "http"), ("x-test", "h2")], end_stream=True)
    writer.write(conn.data_to_send())
    headers: dict[str, str] = {}
    body = b""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout=30)
            assert data, "connection closed before the response ended"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = dict(event.headers)  # type: ignore[arg-type]
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    return headers, body
            writer.write(conn.data_to_send())
    finally:
        writer.close()


def _client_tls(pki: _Pki, alpn: list[str], *, with_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.set_alpn_protocols(alpn)
    if with_client_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


async def test_h2c_prior_knowledge_is_echoed_as_http2(echo_server: tuple[int, int, int]) -> None:
    http, h2c, _ = echo_server
    headers, body = await _h2_get(h2c, "/h2c?x=1", "example.com")
    assert headers[":status"] == "200"
    echoed = json.loads(body)
    assert echoed["proto"] == "HTTP/2.0"
    assert echoed["path"] == "/h2c?x=1"
    assert echoed["host"] == "example.com"
    assert echoed["headers"]["X-Test"] == ["h2"]
    assert echoed["httpPort"] == str(http)
    assert echoed["pod"] == "infra-backend-v3-abc-def"
    assert "tls" not in echoed


async def test_h2c_answers_within_a_small_flow_control_window(echo_server: tuple[int, int, int]) -> None:
    _, h2c, _ = echo_server
    long_path = "/" + "x" * 5000
    headers, body = await _h2_get(h2c, long_path, "example.com", window=256)
    assert headers[":status"] == "200"
    assert len(body) == int(headers["content-length"]) > 5000
    assert json.loads(body)["path"] == long_path


async def test_h2c_port_refuses_plain_http1_but_echoes_an_h2c_upgrade(echo_server: tuple[int, int, int]) -> None:
    _, h2c, _ = echo_server
    head, body = await _http1(h2c, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert body == b"Expected h2c request"
    head, body = await _http1(
        h2c, b"GET /up HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["path"] == "/up"


async def test_https_reports_sni_alpn_and_the_client_certificate(
    echo_server: tuple[int, int, int], pki: _Pki
) -> None:
    _, _, https = echo_server
    context = _client_tls(pki, ["http/1.1"], with_client_cert=True)
    head, body = await _http1(https, b"GET /tls HTTP/1.1\r\nHost: abc.example.com\r\nConnection: close\r\n\r\n",
                              context, "abc.example.com")
    assert head.startswith(b"HTTP/1.1 200")
    tls = json.loads(body)["tls"]
    assert tls["serverName"] == "abc.example.com"
    assert tls["negotiatedProtocol"] == "http/1.1"
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cipherSuite"].startswith("TLS_")
    assert tls["peerCertificates"][0] == pki.client_cert.read_text()


async def test_https_without_client_certificate_and_over_h2(
    echo_server: tuple[int, int, int], pki: _Pki
) -> None:
    _, _, https = echo_server
    context = _client_tls(pki, ["h2", "http/1.1"], with_client_cert=False)
    headers, body = await _h2_get(https, "/status/204", "abc.example.com", context, "abc.example.com")
    assert headers[":status"] == "204"
    headers, body = await _h2_get(https, "/over-h2", "abc.example.com", context, "abc.example.com")
    echoed = json.loads(body)
    assert echoed["proto"] == "HTTP/2.0"
    assert echoed["tls"]["negotiatedProtocol"] == "h2"
    assert "peerCertificates" not in echoed["tls"]


async def test_retry_simulator_fails_with_the_code_until_succeed_after(echo_server: tuple[int, int, int]) -> None:
    http, _, _ = echo_server
    statuses = []
    for _ in range(3):
        head, _ = await _http1(http, b"GET /retry/r?responseCode=503&succeedAfter=2&uuid=u1 HTTP/1.1\r\n"
                                     b"Host: h\r\nConnection: close\r\n\r\n")
        statuses.append(int(head.split()[1]))
    assert statuses == [503, 503, 200]
    head, _ = await _http1(http, b"GET /retry/r?responseCode=503&succeedAfter=2&uuid=u2 HTTP/1.1\r\n"
                                 b"Host: h\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), "attempts are counted per uuid"
    head, body = await _http1(http, b"GET /retry/r?succeedAfter=2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and body == b"uuid is required"


async def test_retry_simulator_without_response_code_resets_the_connection(
    echo_server: tuple[int, int, int]
) -> None:
    http, _, _ = echo_server
    request = b"GET /retry/rst?succeedAfter=1&uuid=rst HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    with pytest.raises(ConnectionResetError):
        await _http1(http, request)
    head, body = await _http1(http, request)
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["path"] == "/retry/rst?succeedAfter=1&uuid=rst"


def _wait_for_port(host: str, port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except ConnectionRefusedError:
            assert process.poll() is None, "echo server exited"
            assert time.monotonic() < deadline, "echo server never started listening"
            time.sleep(0.05)


def test_module_entry_reads_ports_and_bind_address_from_env(pki: _Pki) -> None:
    host = "127.0.0.7"
    http, h2c, https = (_free_port_on(host) for _ in range(3))
    env = {**os.environ, "HTTP_PORT": str(http), "H2C_PORT": str(h2c), "HTTPS_PORT": str(https),
           "BIND_ADDRESS": host, "TLS_SERVER_CERT": str(pki.server_cert),
           "TLS_SERVER_PRIVKEY": str(pki.server_key), "POD_NAME": "tls-backend-x-y", "NAMESPACE": "ns"}
    process = subprocess.Popen([sys.executable, "-m", "propylon.echo"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(host, https, process)
        with socket.create_connection((host, http), timeout=30) as conn:
            conn.sendall(b"GET /env HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        echoed = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert (echoed["httpPort"], echoed["pod"], echoed["namespace"]) == (str(http), "tls-backend-x-y", "ns")
        context = ssl.create_default_context(cafile=str(pki.ca))
        with socket.create_connection((host, https), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname="abc.example.com") as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"OK")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert f"listening on port {https} (https)" in out
        assert "Echoing back request made to /env to client (127." in out
    finally:
        process.kill()
        process.wait()


def test_bind_option_wins_over_env_and_https_needs_both_files() -> None:
    config = EchoConfig.from_env({"BIND_ADDRESS": "127.0.0.9", "TLS_SERVER_CERT": "/c"}, "127.0.0.3")
    assert (config.bind, config.http_port, config.h2c_port, config.https_port) == ("127.0.0.3", 3000, 3001, 8443)
    assert not config.https_enabled
    with pytest.raises(ValueError, match="HTTP_PORT"):
        EchoConfig.from_env({"HTTP_PORT": "http"})


async def test_https_resets_too_and_http2_retries_fail_with_500(
    echo_server: tuple[int, int, int], pki: _Pki
) -> None:
    _, h2c, https = echo_server
    context = _client_tls(pki, ["http/1.1"], with_client_cert=False)
    request = b"GET /retry/t?succeedAfter=1&uuid=tls HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    with pytest.raises((ConnectionResetError, ssl.SSLError)):
        await _http1(https, request, context, "abc.example.com")
    h2_context = _client_tls(pki, ["h2"], with_client_cert=False)
    headers, body = await _h2_get(https, "/retry/t?succeedAfter=1&uuid=h2", "h", h2_context, "abc.example.com")
    assert headers[":status"] == "500"
    assert "hijacking" in json.loads(body)["message"]
    headers, _ = await _h2_get(https, "/retry/t?succeedAfter=1&uuid=h2", "h", h2_context, "abc.example.com")
    assert headers[":status"] == "200"
    headers, _ = await _h2_get(h2c, "/retry/t?succeedAfter=1&uuid=h2c", "h")
    assert headers[":status"] == "200", "the H2C listener echoes every path, as echo-basic's does"


async def test_websocket_over_https_and_ws_without_upgrade(
    echo_server: tuple[int, int, int], pki: _Pki
) -> None:
    http, _, https = echo_server
    context = _client_tls(pki, ["http/1.1"], with_client_cert=False)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"https://127.0.0.1:{https}/ws", ssl=context,
                                      server_hostname="abc.example.com") as ws:
            await ws.send_bytes(b"\x00\x01")
            assert (await ws.receive(timeout=10)).data == b"\x00\x01"
        async with session.get(f"http://127.0.0.1:{http}/ws") as response:
            assert response.status == 400


async def test_an_echo_with_a_cpu_utilization_reports_it_in_band() -> None:
    """Envoy Gateway's backend-utilization image: ORCA load report in `endpoint-load-metrics`
    (what Envoy's client-side weighted round robin reads), unless ORCA_INBAND is false."""
    environ = {"ORCA_CPU_UTILIZATION": "0.1", "POD_NAME": "low-util-1"}
    for inband, expected in (("", 'JSON {"cpu_utilization": 0.1, "rps_fractional": 1000}'),
                             ("false", None)):
        config = EchoConfig.from_env({**environ, "ORCA_INBAND": inband})
        server = await serve(replace(config, http_port=0, h2c_port=0))
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(f"http://127.0.0.1:{server.ports()[0]}/x") as response:
                assert response.headers.get("endpoint-load-metrics") == expected
                assert (await response.json())["pod"] == "low-util-1"
        finally:
            await server.close()
