"""Redirect annotations: `app-root`, `permanent-redirect(-code)`, `temporal-redirect(-code)`,
`ssl-redirect`, `force-ssl-redirect`, `preserve-trailing-slash`, `from-to-www-redirect`.

nginx's `return <code> <url>` answers with exactly that Location, so a fixed redirect becomes an
Envoy Gateway HTTPRouteFilter `directResponse` with the status and a `Location` header (the
Gateway API RequestRedirect cannot drop the request's path or send 300-306). The HTTPS
redirects depend on the host's TLS sections and `from-to-www-redirect` on another hostname, so
those are settings the conversion applies (`propylon.ingress.routes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from propylon.ingress.effects import (
    Context,
    Converted,
    Converter,
    ExtraRule,
    Manifest,
    Respond,
    Setting,
    converted,
    refused,
)
from propylon.ingress.manifests import fixed_redirect
from propylon.ingress.names import child_name


def app_root(ctx: Context, value: str) -> Converted:
    if not value.startswith("/") or urlsplit(value).scheme:
        return refused(f'"{value}" is not a path: write a path starting with "/", e.g. "/app"')
    return converted(ExtraRule(
        matches=({"path": {"type": "Exact", "value": "/"}},),
        filters=({"type": "RequestRedirect", "requestRedirect": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": value}, "statusCode": 302}},)))


def permanent_redirect(ctx: Context, value: str) -> Converted:
    if ctx.annotation("temporal-redirect"):
        return converted(note="temporal-redirect is also set and takes precedence, as in "
                              "ingress-nginx")
    return _redirect(ctx, value, _code(ctx.annotation("permanent-redirect-code"), 301))


def temporal_redirect(ctx: Context, value: str) -> Converted:
    return _redirect(ctx, value, _code(ctx.annotation("temporal-redirect-code"), 302))


def _code(raw: str, default: int) -> int:
    """ingress-nginx takes a redirect code in 300-308 and otherwise its default."""
    try:
        code = int(raw)
    except ValueError:
        return default
    return code if 300 <= code <= 308 else default


def _redirect(ctx: Context, url: str, code: int) -> Converted:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return refused(f'"{url}" is not an absolute http(s) URL: write one such as '
                       '"https://example.com/path"')
    filter_, ref = fixed_redirect(ctx.ingress.namespace, child_name(ctx.ingress.name, "redirect"),
                                  code, url)
    return converted(Manifest(filter_), Respond((ref,)))


def _setting(name: str) -> Converter:
    def convert(ctx: Context, value: str) -> Converted:
        value = value.strip().lower()
        if value not in ("true", "false"):
            return refused(f'"{value}" is not a boolean: write "true" or "false"')
        return converted(Setting(name, value))
    return convert


def _companion(of: str) -> Converter:
    def convert(ctx: Context, value: str) -> Converted:
        if not ctx.annotation(of):
            return refused(f"has no effect without {of}: add {of} or remove it")
        return converted()
    return convert


CONVERTERS: Mapping[str, Converter] = {
    "app-root": app_root,
    "permanent-redirect": permanent_redirect,
    "permanent-redirect-code": _companion("permanent-redirect"),
    "temporal-redirect": temporal_redirect,
    "temporal-redirect-code": _companion("temporal-redirect"),
    "ssl-redirect": _setting("ssl-redirect"),
    "force-ssl-redirect": _setting("force-ssl-redirect"),
    "preserve-trailing-slash": _setting("preserve-trailing-slash"),
    "from-to-www-redirect": _setting("from-to-www-redirect"),
}
