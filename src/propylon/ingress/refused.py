"""The annotations with no faithful Envoy Gateway equivalent: each refused with its reason
and what to do instead, never dropped in silence.

Snippets carry raw nginx configuration, which has no meaning to Envoy; ModSecurity and the
OWASP rules are an nginx module Envoy does not have. The other entries name the nginx feature
Envoy Gateway does not offer.
"""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.policyparts import REFUSED, Converted, Note

_SNIPPET = ("not convertible: {what} is raw nginx configuration, which Envoy cannot run: "
            "express what it does with Gateway API filters or Envoy Gateway policies")
_WAF = ("not convertible: ModSecurity is an nginx module Envoy does not have: put a web "
        "application firewall in front of the gateway or in an ext_authz service (auth-url)")
REASONS = {
    "configuration-snippet": _SNIPPET.format(what="a location snippet"),
    "server-snippet": _SNIPPET.format(what="a server snippet"),
    "stream-snippet": _SNIPPET.format(what="a stream snippet"),
    "auth-snippet": _SNIPPET.format(what="an auth location snippet"),
    "modsecurity-snippet": _WAF,
    "enable-modsecurity": _WAF,
    "enable-owasp-core-rules": _WAF,
    "modsecurity-transaction-id": _WAF,
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


def convert(annotations: Mapping[str, str]) -> Converted:
    """A refusal note for each annotation of `REASONS` present (short names)."""
    return Converted(notes=tuple(Note(name, REFUSED, reason) for name, reason in REASONS.items()
                                 if name in annotations))
