"""The echo backend's ingress-nginx mode (`INGRESS_NGINX_IMAGE`): the e2e echo image's reply
format, httpbun's endpoints and slow-echo, as ingress-nginx's cases read them."""

from __future__ import annotations

import base64
import socket

import aiohttp
import pytest

from propylon.echo import ingressnginx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(image: str, path: str, headers: dict[str, str] | None = None
               ) -> tuple[int, dict[str, str], str]:
    port = _free_port()
    runner = await ingressnginx.serve({"INGRESS_NGINX_IMAGE": image, "HTTP_PORT": str(port),
                                       "POD_NAME": f"{image}-5b9c0d1e2f-ab120"}, "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}{path}", headers=headers or {}) as response:
            return response.status, dict(response.headers), await response.text()
    finally:
        await runner.cleanup()


async def test_echo_reports_the_request_it_received() -> None:
    status, headers, body = await _get("echo", "/a/b?hsts=true",
                                       {"Host": "rewrite.bar.com", "X-Forwarded-Prefix": "/t"})
    assert status == 200 and headers["Server"] == "echoserver"
    assert headers["Strict-Transport-Security"] == "max-age=3600; preload"
    lines = body.splitlines()
    assert lines[0] == "Hostname: echo-5b9c0d1e2f-ab120"
    assert "\treal path=/a/b?hsts=true" in lines
    assert "\trequest_uri=http://rewrite.bar.com:80/a/b?hsts=true" in lines
    assert "\thost=rewrite.bar.com" in lines and "\tx-forwarded-prefix=/t" in lines
    assert "\t-no body in request-" in lines


async def test_httpbun_info_and_basic_auth() -> None:
    status, _, body = await _get("httpbun", "/info")
    assert (status, body) == (200, '{"hostname": "httpbun-5b9c0d1e2f-ab120"}')
    good = {"Authorization": "Basic " + base64.b64encode(b"user:password").decode()}
    status, _, body = await _get("httpbun", "/basic-auth/user/password", good)
    assert status == 200 and '"authenticated": true' in body
    status, headers, _ = await _get("httpbun", "/basic-auth/user/other", good)
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="Fake Realm"'


async def test_slow_echo_sleeps_on_request() -> None:
    assert (await _get("slow-echo", "/sleep/0"))[::2] == (200, "ok after 0 seconds")
    assert (await _get("slow-echo", "/anything"))[::2] == (200, "ok")


async def test_an_unknown_image_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="echo, httpbun, slow-echo"):
        await ingressnginx.serve({"INGRESS_NGINX_IMAGE": "nope"}, "127.0.0.1")
