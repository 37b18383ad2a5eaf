"""Annotations with no faithful Envoy Gateway equivalent beyond snippets and ModSecurity
(`refusals`): each refused with the nginx feature Envoy Gateway does not offer and what to do
instead, never dropped in silence."""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.effects import Context, Converted, Converter, refused

REASONS = {
    "ssl-ciphers": "not convertible per Ingress: ciphers are a setting of the Gateway's "
                   "listener (ClientTrafficPolicy tls.ciphers targeting it), shared by every "
                   "Ingress of the host: set it there",
    "ssl-prefer-server-ciphers": "not convertible per Ingress: the cipher order is a setting "
                                 "of the Gateway's listener (ClientTrafficPolicy tls), shared "
                                 "by every Ingress of the host",
    "connection-proxy-header": "not convertible: Envoy manages the Connection header to the "
                               "backend itself (keep-alive, upgrades); it cannot be set",
    "custom-http-errors": "not convertible: ingress-nginx sends these answers to the "
                          "default-backend Service to be rewritten; Envoy Gateway's "
                          "responseOverride answers with a fixed body and cannot ask a "
                          "Service: write BackendTrafficPolicy responseOverride rules",
    "default-backend": "not convertible: a Service that answers in the backend's place when "
                       "it has no endpoint or for custom-http-errors; Envoy Gateway has no "
                       "fallback backend of a route",
    "enable-global-auth": "not convertible: ingress-nginx's global external auth "
                          "(global-auth-url) has no counterpart: set auth-url on the Ingress",
    "satisfy": "not convertible: Envoy Gateway cannot accept a request passing either the "
               "address list or the authentication (satisfy any): both apply",
    "http2-push-preload": "not convertible: HTTP/2 server push is not supported by Envoy "
                          "(nor by browsers any more)",
    "enable-access-log": "not convertible per Ingress: access logs are configured for the "
                         "whole proxy (EnvoyProxy telemetry)",
    "enable-rewrite-log": "not convertible: Envoy has no rewrite log (its access log shows "
                          "the rewritten path)",
    "enable-opentelemetry": "not convertible per Ingress: tracing is configured for the "
                            "whole proxy (EnvoyProxy telemetry)",
    "opentelemetry-trust-incoming-span": "not convertible per Ingress: tracing is configured "
                                         "for the whole proxy (EnvoyProxy telemetry)",
}


def _refuse(reason: str) -> Converter:
    def convert(ctx: Context, value: str) -> Converted:
        return refused(reason)
    return convert


CONVERTERS: Mapping[str, Converter] = {name: _refuse(reason) for name, reason in REASONS.items()}
