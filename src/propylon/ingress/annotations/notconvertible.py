"""Annotations with no faithful Envoy Gateway equivalent beyond snippets and ModSecurity
(`refusals`): each refused with the nginx feature Envoy Gateway does not offer and what to do
instead, never dropped in silence. A client certificate check that cannot be converted
(`auth-tls-secret`) answers every request 503 rather than serve the location without it."""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.annotations.policyparts import CLOSED, answer_all
from propylon.ingress.effects import Context, Converted, Converter, refused
from propylon.ingress.report import Outcome

_CLIENT_CERT = ("not convertible yet: client certificate authentication needs a "
                "ClientTrafficPolicy tls.clientValidation on the host's HTTPS listener, which "
                "Propylon does not implement yet")
REASONS = {
    "auth-tls-verify-client": _CLIENT_CERT,
    "auth-tls-verify-depth": _CLIENT_CERT,
    "auth-tls-error-page": _CLIENT_CERT,
    "auth-tls-pass-certificate-to-upstream": _CLIENT_CERT,
    "auth-tls-match-cn": _CLIENT_CERT,
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


def _client_certificates(ctx: Context, value: str) -> Converted:
    """`auth-tls-secret`: when ingress-nginx would demand a client certificate
    (`auth-tls-verify-client` on, its default, or optional), every request is answered 503, so
    the location is never served without that check."""
    mode = ctx.annotation("auth-tls-verify-client", "on").strip().lower()
    if mode in ("off", "optional_no_ca"):
        return refused(_CLIENT_CERT)
    return Converted((answer_all(503),), Outcome.REFUSED, _CLIENT_CERT + CLOSED)


CONVERTERS: Mapping[str, Converter] = {
    **{name: _refuse(reason) for name, reason in REASONS.items()},
    "auth-tls-secret": _client_certificates,
}
