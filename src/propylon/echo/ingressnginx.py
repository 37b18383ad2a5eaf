"""The backends of ingress-nginx's end-to-end tests, as its cases' README describes them.

Selected by `INGRESS_NGINX_IMAGE` (the conformance runner sets it from the case's image name),
one HTTP/1.1 listener on `BIND_ADDRESS`:`HTTP_PORT` (port 80 as in the tests):

- `echo` (registry.k8s.io/ingress-nginx/e2e-test-echo): any method and path get 200,
  `Content-Type: text/plain`, `Server: echoserver` and a body reporting the request received
  (`Hostname: <pod>`, `real path=...`, `request_uri=http://<host>:80<uri>`, one
  `<name>=<value>` line per header, lower-cased and sorted, then the body); a query with
  `hsts=true` adds `Strict-Transport-Security: max-age=3600; preload`.
- `httpbun` (with HTTPBUN_INFO_ENABLED): `GET /info` -> `{"hostname": "<pod>"}`;
  `/basic-auth/<user>/<password>` -> 200 `{"authenticated": true, "user": ...}` with matching
  Basic credentials, else 401 with `WWW-Authenticate: Basic realm="Fake Realm"`; anything else
  404.
- `slow-echo`: `/sleep/<N>` answers `ok after N seconds` after N seconds, any other path `ok`.

The pod name comes from `POD_NAME`, as the echo's other modes read it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from propylon.echo import environment

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def echo_body(request: web.Request, body: bytes, pod: str) -> str:
    """The e2e-test-echo body for `request` (see the module docstring)."""
    headers = sorted((name.lower(), value) for name, value in request.headers.items())
    host = request.headers.get("Host", "")
    version = f"{request.version.major}.{request.version.minor}"
    lines = [
        f"Hostname: {pod}", "", "Pod Information:", "\t-no pod information available-", "",
        "Server values:", "\tserver_version=nginx: 1.21.6 - lua: 10021", "",
        "Request Information:",
        f"\tclient_address={request.remote or ''}",
        f"\tmethod={request.method}",
        f"\treal path={request.raw_path}",
        f"\tquery={request.query_string}",
        f"\trequest_version={version}",
        "\trequest_scheme=http",
        f"\trequest_uri=http://{host.split(':')[0]}:80{request.raw_path}", "",
        "Request Headers:",
        *(f"\t{name}={value}" for name, value in headers), "",
        "Request Body:",
        body.decode(errors="replace") if body else "\t-no body in request-", "",
    ]
    return "\n".join(lines)


def _echo(pod: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Server": "echoserver"}
        if request.query.get("hsts") == "true":
            headers["Strict-Transport-Security"] = "max-age=3600; preload"
        return web.Response(text=echo_body(request, body, pod), headers=headers)
    return handle


def _credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _httpbun(pod: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if parts == ["info"]:
            return web.json_response({"hostname": pod})
        if len(parts) == 3 and parts[0] == "basic-auth":
            if _credentials(request) == (parts[1], parts[2]):
                return web.json_response({"authenticated": True, "user": parts[1]})
            return web.Response(status=401,
                                headers={"WWW-Authenticate": 'Basic realm="Fake Realm"'})
        return web.Response(status=404, text="404 page not found\n")
    return handle


def _slow_echo(_pod: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "sleep" and parts[1].isdigit():
            await asyncio.sleep(int(parts[1]))
            return web.Response(text=f"ok after {parts[1]} seconds")
        return web.Response(text="ok")
    return handle


HANDLERS: dict[str, Callable[[str], Handler]] = {
    "echo": _echo, "httpbun": _httpbun, "slow-echo": _slow_echo}


async def serve(environ: Mapping[str, str], bind: str) -> web.AppRunner:
    """Start the image `INGRESS_NGINX_IMAGE` names; raises ValueError for an unknown one."""
    image = environ.get("INGRESS_NGINX_IMAGE", "")
    if image not in HANDLERS:
        raise ValueError(f"INGRESS_NGINX_IMAGE={image!r} is not one of {', '.join(HANDLERS)}")
    port = environment.port(environ, "HTTP_PORT", 80)
    app = web.Application(client_max_size=0)
    app.router.add_route("*", "/{tail:.*}", HANDLERS[image](environ.get("POD_NAME", "")))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind, port, reuse_address=True).start()
    print(f"ingress-nginx {image} listening on {bind}:{port}", flush=True)
    return runner
