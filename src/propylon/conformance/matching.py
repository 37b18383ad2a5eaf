"""The harness's response matching rules (`http.CompareRoundTrip`), as pure functions.

`compare(request, expect, response)` returns None when the response satisfies the case's
`expect`, else a one-line reason. Rules, from cases/README.md:
- the status must be one of the expected ones; 408 and 504 are the same timeout code;
  `status: not200` accepts anything but 200;
- for a 200 or 204 answer the echo body is checked (not with `check: response`, the runner's
  mark for a step made with Go's own client, which reads only the response): `backend` is a prefix of the echoed pod,
  `namespace` equals (absent = the answer must not come from an echo pod), and path, host,
  method and headers are what the backend must have seen, defaulting to the request that was
  sent (path + query, the Host if one was set, the method, and, when `expect` describes none of
  path/host/method/headers/absentHeaders, each request header; values joined with ",", names
  case-insensitive); `absentHeaders` must be missing; `answeredByGateway` answers must not
  be echo JSON; `backendSNI` is the SNI a TLS echo backend saw and `backendPeerCert` a PEM among
  the client certificates it saw;
- response headers: `responseHeaders` exact after joining, `responseHeaderOneOf` any listed
  value, optionally ignoring whitespace, `absentResponseHeaders` missing, `setCookieContains`
  substrings of the first Set-Cookie;
- for a 3xx answer with `redirect`, the Location's scheme (default: the request's), host (only
  if given), port (absent: empty or the scheme's default) and path (default: the request path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_CODES = frozenset({408, 504})
DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def joined(self, name: str) -> str | None:
        values = self.header_values(name)
        return ",".join(values) if values else None

    def echo(self) -> dict[str, Any] | None:
        """The echo server's JSON body, or None when the answer is not one."""
        content_type = (self.joined("content-type") or "").split(";")[0].strip()
        if content_type != "application/json":
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def expected_statuses(expect: Mapping[str, Any]) -> list[int] | None:
    """The accepted status codes; None for `not200`."""
    status = expect.get("status", 200)
    if status == "not200":
        return None
    return [int(s) for s in status] if isinstance(status, list) else [int(status)]


def status_matches(expect: Mapping[str, Any], actual: int) -> bool:
    codes = expected_statuses(expect)
    if codes is None:
        return actual != 200
    if actual in TIMEOUT_CODES and TIMEOUT_CODES & set(codes):
        return True
    return actual in codes


def compare(request: Mapping[str, Any], expect: Mapping[str, Any], response: Response,
            scheme: str = "http") -> str | None:
    if not status_matches(expect, response.status):
        return f"expected status {expect.get('status', 200)}, got {response.status}"
    if request.get("check") == "statusOnly":  # Envoy Gateway's ExpectRequestTimeout
        return None
    if response.status in (200, 204) and expected_statuses(expect) is not None \
            and request.get("check") != "response":
        reason = _compare_echo(request, expect, response)
        if reason:
            return reason
    reason = _compare_response_headers(expect, response)
    if reason:
        return reason
    if 300 <= response.status < 400 and expect.get("redirect") is not None:
        return _compare_redirect(request, expect["redirect"], response, scheme)
    return None


def _compare_echo(request: Mapping[str, Any], expect: Mapping[str, Any],
                  response: Response) -> str | None:
    echo = response.echo()
    if expect.get("answeredByGateway"):
        if echo is not None:
            return f"expected the gateway to answer, got an echo from pod {echo.get('pod')!r}"
        return None
    namespace = expect.get("namespace", "")
    if echo is None:
        if namespace or expect.get("backend"):
            return f"expected an echo response, got {response.status} without an echo body"
        return None
    if echo.get("namespace", "") != namespace:
        return f"expected namespace {namespace!r}, got {echo.get('namespace')!r}"
    pod = str(echo.get("pod", ""))
    backend = expect.get("backend") or ""
    if not pod.startswith(backend):
        return f"expected pod of backend {backend!r}, got {pod!r}"
    path = expect.get("path", request.get("path", "/"))
    if echo.get("path") != path:
        return f"expected the backend to see path {path!r}, got {echo.get('path')!r}"
    method = expect.get("method", request.get("method") or "GET")
    if echo.get("method") != method:
        return f"expected method {method!r}, got {echo.get('method')!r}"
    host = expect.get("host", request.get("host"))
    if host and echo.get("host") != host:
        return f"expected host {host!r}, got {echo.get('host')!r}"
    headers = {str(k).lower(): v for k, v in (echo.get("headers") or {}).items()}
    # an expect that describes the backend request replaces the sent headers as the default
    described = any(k in expect for k in ("path", "host", "method", "headers", "absentHeaders"))
    expected_headers = expect.get("headers") if described else request.get("headers")
    expected_headers = expected_headers or {}
    for name, value in expected_headers.items():
        actual = headers.get(str(name).lower())
        if actual is None:
            return f"expected the backend to see header {name}, it did not"
        joined = ",".join(actual) if isinstance(actual, list) else str(actual)
        if joined != str(value):
            return f"expected header {name}: {value!r}, the backend saw {joined!r}"
    for name in expect.get("absentHeaders") or ():
        if str(name).lower() in headers:
            return f"expected header {name} to be absent, the backend saw {headers[name.lower()]}"
    return _compare_backend_tls(expect, echo.get("tls") or {})


def _compare_backend_tls(expect: Mapping[str, Any], tls: Mapping[str, Any]) -> str | None:
    """What a TLS echo backend saw of the gateway's connection: SNI and client certificate."""
    sni = expect.get("backendSNI")
    if sni and tls.get("serverName") != sni:
        return f"expected the backend to see SNI {sni!r}, it saw {tls.get('serverName')!r}"
    peer = expect.get("backendPeerCert")
    if peer and "".join(str(peer).split()) not in {"".join(str(p).split())
                                                    for p in tls.get("peerCertificates") or ()}:
        return "expected the backend to see the gateway's client certificate, it did not"
    return None


def _squash(value: str, ignore_whitespace: bool) -> str:
    return "".join(value.split()) if ignore_whitespace else value


def _compare_response_headers(expect: Mapping[str, Any], response: Response) -> str | None:
    ignore = bool(expect.get("ignoreWhitespaceInResponseHeaders"))
    for name, value in (expect.get("responseHeaders") or {}).items():
        actual = response.joined(name)
        if actual is None or _squash(actual, ignore) != _squash(str(value), ignore):
            return f"expected response header {name}: {value!r}, got {actual!r}"
    for name, values in (expect.get("responseHeaderOneOf") or {}).items():
        actual = response.joined(name)
        allowed = {_squash(str(v), ignore) for v in values}
        if actual is None or _squash(actual, ignore) not in allowed:
            return f"expected response header {name} to be one of {values}, got {actual!r}"
    for name in expect.get("absentResponseHeaders") or ():
        if response.joined(name) is not None:
            return f"expected response header {name} to be absent, got {response.joined(name)!r}"
    cookies = response.header_values("set-cookie")
    for part in expect.get("setCookieContains") or ():
        if not cookies or str(part) not in cookies[0]:
            return f"expected the first Set-Cookie to contain {part!r}, got " \
                f"{cookies[0] if cookies else None!r}"
    return None


def _compare_redirect(request: Mapping[str, Any], redirect: Mapping[str, Any],
                      response: Response, scheme: str) -> str | None:
    location = response.joined("location")
    if not location:
        return f"expected a Location header on the {response.status} redirect"
    url = urlsplit(location)
    want_scheme = redirect.get("scheme") or scheme
    if (url.scheme or scheme) != want_scheme:
        return f"expected redirect scheme {want_scheme!r}, Location is {location!r}"
    if redirect.get("host") and url.hostname != redirect["host"]:
        return f"expected redirect host {redirect['host']!r}, Location is {location!r}"
    port = str(url.port) if url.port else ""
    if redirect.get("port") is not None:
        if port != str(redirect["port"]):
            return f"expected redirect port {redirect['port']}, Location is {location!r}"
    elif port not in ("", DEFAULT_PORTS.get(want_scheme, "")):
        return f"expected no redirect port (or the {want_scheme} default), Location is {location!r}"
    path = redirect.get("path") or str(request.get("path", "/")).split("?")[0]
    if url.path != path:
        return f"expected redirect path {path!r}, Location is {location!r}"
    return None
