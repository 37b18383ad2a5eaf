"""What the backend receives and how it is reached: `upstream-vhost`, `x-forwarded-prefix`,
`backend-protocol`, `service-upstream`."""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.effects import (
    Context,
    Converted,
    Converter,
    Filter,
    Setting,
    converted,
    differs,
    refused,
)

PROTOCOLS = ("HTTP", "HTTPS", "AUTO_HTTP", "GRPC", "GRPCS", "FCGI")


def upstream_vhost(ctx: Context, value: str) -> Converted:
    if "$" in value:
        return refused(f'"{value}" uses nginx variables, which Envoy does not expand: write a '
                       "fixed host name")
    return converted(Filter({"type": "URLRewrite", "urlRewrite": {"hostname": value}}))


def x_forwarded_prefix(ctx: Context, value: str) -> Converted:
    if not value:
        return converted(note="empty: no header is added, as in ingress-nginx")
    return converted(Filter({"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "X-Forwarded-Prefix", "value": value}]}}))


def backend_protocol(ctx: Context, value: str) -> Converted:
    protocol = value.strip().upper()
    if protocol not in PROTOCOLS:
        return refused(f'"{value}" is not one of {", ".join(PROTOCOLS)}')
    if protocol == "FCGI":
        return refused("Envoy does not speak FastCGI: serve the application over HTTP (e.g. "
                       "php-fpm behind a small HTTP server) and drop the annotation")
    if protocol in ("HTTPS", "GRPCS"):
        return differs("the backend's certificate is verified against the system's CAs and the "
                       "Service's DNS name (a BackendTLSPolicy), where ingress-nginx does not "
                       "verify it (proxy-ssl-verify off): give the BackendTLSPolicy the backend's "
                       "CA if it is private", Setting("backend-protocol", protocol))
    return converted(Setting("backend-protocol", protocol))


def service_upstream(ctx: Context, value: str) -> Converted:
    if not ctx.flag("service-upstream"):
        return converted()
    return differs("Envoy balances over the Service's ready endpoints itself instead of sending "
                   "to its cluster IP; requests still reach only the Service's ready pods",
                   Setting("service-upstream", "true"))


CONVERTERS: Mapping[str, Converter] = {
    "upstream-vhost": upstream_vhost,
    "x-forwarded-prefix": x_forwarded_prefix,
    "backend-protocol": backend_protocol,
    "service-upstream": service_upstream,
}
