"""What the backend receives and how it is reached: `upstream-vhost`, `x-forwarded-prefix`,
`backend-protocol`, `service-upstream`, and the backend TLS settings `proxy-ssl-name`,
`proxy-ssl-verify`, `proxy-ssl-server-name`, `proxy-ssl-secret` (whose `ca.crt` becomes a
ConfigMap, the form of CA a BackendTLSPolicy references). A BackendTLSPolicy sets no TLS
version, cipher or chain depth, and Envoy speaks TLS 1.2 to backends: `proxy-ssl-protocols`
converts when it includes TLS 1.2 (with a difference when it has others), and is not
convertible without it, as `proxy-ssl-ciphers` and `proxy-ssl-verify-depth` are (Envoy
Gateway's Backend `tls.minVersion`, `maxVersion` and `ciphers` are not implemented, and nothing
sets a depth)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from propylon.ingress.effects import (
    Context,
    Converted,
    Converter,
    Filter,
    Manifest,
    Setting,
    converted,
    differs,
    refused,
)
from propylon.ingress.manifests import manifest
from propylon.ingress.names import child_name
from propylon.ingress.report import Outcome

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
    if protocol in ("HTTPS", "GRPCS") and ctx.annotation("proxy-ssl-verify").lower() != "on":
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


def _needs_tls(check: Converter) -> Converter:
    def convert(ctx: Context, value: str) -> Converted:
        if ctx.annotation("backend-protocol").strip().upper() not in ("HTTPS", "GRPCS"):
            return refused("has no effect without backend-protocol HTTPS or GRPCS: add it or "
                           "remove this")
        return check(ctx, value)
    return convert


def _ssl_name(ctx: Context, value: str) -> Converted:
    return converted(Setting("proxy-ssl-name", value.strip().lower()))


def _ssl_verify(ctx: Context, value: str) -> Converted:
    if value.strip().lower() == "on":
        return converted()
    return differs("the backend's certificate is verified all the same: a BackendTLSPolicy "
                   "always verifies")


def _ssl_server_name(ctx: Context, value: str) -> Converted:
    if value.strip().lower() == "on":
        return converted()
    return differs("Envoy sends the BackendTLSPolicy's hostname as SNI all the same")


def _ssl_secret(ctx: Context, value: str) -> Converted:
    secret = ctx.secret(value)
    raw = ((secret or {}).get("data") or {}).get("ca.crt")
    if secret is None or not raw:
        return refused(f'Secret "{value}" with a ca.crt was not given: include it, or put the CA '
                       "in a ConfigMap (key ca.crt) named by the BackendTLSPolicy")
    try:
        ca = base64.b64decode(str(raw), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return refused(f'ca.crt of Secret "{value}" is not base64 PEM: fix the Secret')
    ing = ctx.ingress
    name = child_name(value.rpartition("/")[2], "ca")
    config_map = manifest("ConfigMap", "", ing.namespace, name, {})
    del config_map["spec"]
    config_map["data"] = {"ca.crt": ca}
    note = ("its tls.crt/tls.key (a client certificate) are not used: set the Gateway's "
            "spec.tls.backend.clientCertificateRef" if "tls.crt" in (secret.get("data") or {})
            else "")
    return Converted((Manifest(config_map), Setting("proxy-ssl-ca", name)),
                     Outcome.DIFFERS if note else Outcome.CONVERTED, note)


def _ssl_protocols(ctx: Context, value: str) -> Converted:
    """Envoy speaks TLS 1.2 only to a backend (its client default; a BackendTLSPolicy sets no
    version)."""
    versions = set(value.split())
    if versions == {"TLSv1.2"}:
        return converted(note="Envoy speaks TLS 1.2 to backends")
    if "TLSv1.2" in versions:
        return differs(f"Envoy speaks TLS 1.2 only to backends, where nginx may also use "
                       f"{', '.join(sorted(versions - {'TLSv1.2'}))}: a backend that does not "
                       "accept TLS 1.2 cannot be reached")
    return refused("not convertible yet: Envoy speaks TLS 1.2 only to backends, and a "
                   "BackendTLSPolicy sets no version (Envoy Gateway's Backend "
                   "tls.minVersion/maxVersion, which Propylon does not implement yet): make the "
                   "backend accept TLS 1.2")


def _ssl_ciphers(ctx: Context, value: str) -> Converted:
    return refused("not convertible yet: Envoy offers its default cipher suites to backends "
                   "(ECDHE with AES-GCM or ChaCha20-Poly1305), and a "
                   "BackendTLSPolicy sets none (Envoy Gateway's Backend tls.ciphers, which "
                   "Propylon does not implement yet): make the backend accept one of them")


def _ssl_verify_depth(ctx: Context, value: str) -> Converted:
    return refused("not convertible: neither a BackendTLSPolicy nor Envoy Gateway's backend "
                   "TLS settings limit the chain depth; Envoy verifies the backend's chain up "
                   "to the BackendTLSPolicy's CA however long it is: to keep a short chain, "
                   "trust only the CA that issues the backend's certificate (proxy-ssl-secret)")


def ssl_passthrough(ctx: Context, value: str) -> Converted:
    if not ctx.flag("ssl-passthrough"):
        return converted()
    return converted(Setting("ssl-passthrough", "true"),
                     note="TLS on 443 for the Ingress's hosts is passed to the backend (a TLS "
                          "Passthrough listener and a TLSRoute); HTTP annotations do not apply "
                          "there, as in ingress-nginx")


CONVERTERS: Mapping[str, Converter] = {
    "upstream-vhost": upstream_vhost,
    "x-forwarded-prefix": x_forwarded_prefix,
    "backend-protocol": backend_protocol,
    "service-upstream": service_upstream,
    "ssl-passthrough": ssl_passthrough,
    "proxy-ssl-name": _needs_tls(_ssl_name),
    "proxy-ssl-verify": _needs_tls(_ssl_verify),
    "proxy-ssl-server-name": _needs_tls(_ssl_server_name),
    "proxy-ssl-secret": _needs_tls(_ssl_secret),
    "proxy-ssl-protocols": _needs_tls(_ssl_protocols),
    "proxy-ssl-ciphers": _needs_tls(_ssl_ciphers),
    "proxy-ssl-verify-depth": _needs_tls(_ssl_verify_depth),
}
