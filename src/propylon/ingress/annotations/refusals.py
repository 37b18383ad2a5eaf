"""Annotations with no Envoy equivalent, refused with what to do instead: raw nginx
configuration (snippets other than the header directives `snippets` converts) and
ModSecurity."""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.effects import Context, Converted, Converter, refused

_SNIPPET = ("raw nginx configuration has no Envoy equivalent: express what the snippet does with "
            "an HTTPRoute filter or an Envoy Gateway policy on the converted HTTPRoute (headers: "
            "RequestHeaderModifier/ResponseHeaderModifier; fixed answers: an HTTPRouteFilter "
            "directResponse; Lua logic: an EnvoyExtensionPolicy)")
_MODSECURITY = ("ModSecurity is nginx's web application firewall module; Envoy has none built in: "
                "put a WAF in front of the gateway, or call one with ext_authz (a SecurityPolicy "
                "extAuth)")


def _snippet(ctx: Context, value: str) -> Converted:
    return refused(_SNIPPET)


def _modsecurity(ctx: Context, value: str) -> Converted:
    return refused(_MODSECURITY)


CONVERTERS: Mapping[str, Converter] = {
    "auth-snippet": _snippet,
    "stream-snippet": _snippet,
    "modsecurity-snippet": _modsecurity,
    "enable-modsecurity": _modsecurity,
    "enable-owasp-core-rules": _modsecurity,
    "modsecurity-transaction-id": _modsecurity,
}
