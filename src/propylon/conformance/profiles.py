"""The five GATEWAY-* conformance profiles of Gateway API v1.6.1 and the suite's rule that places
a test in them (`conformance/utils/suite/profiles.go`, `pkg/features`).

A test counts toward a profile when every one of its features is in that profile's core or
extended set, as extended when any of them is not core. `of(features)` is that placement,
`{profile: "core" | "extended"}`; tests whose only features are Gateway, ReferenceGrant or the
Gateway's extended ones count in every profile. `EXTENDED[profile]` lists the extended features a
report splits into supported and unsupported.
"""

from __future__ import annotations

from collections.abc import Iterable

GATEWAY_EXTENDED = (
    "GatewayPort8080", "GatewayStaticAddresses", "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests", "GatewayInfrastructurePropagation",
    "GatewayAddressEmpty", "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback", "ListenerSet",
)
HTTPROUTE_EXTENDED = (
    "HTTPRouteDestinationPortMatching", "HTTPRouteQueryParamMatching", "HTTPRouteMethodMatching",
    "HTTPRouteBackendRequestHeaderModification", "HTTPRouteResponseHeaderModification",
    "HTTPRoutePortRedirect", "HTTPRouteSchemeRedirect", "HTTPRoutePathRedirect",
    "HTTPRoute303RedirectStatusCode", "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode", "HTTPRouteHostRewrite", "HTTPRoutePathRewrite",
    "HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror", "HTTPRouteRequestTimeout", "HTTPRouteBackendTimeout",
    "HTTPRouteBackendProtocolH2C", "HTTPRouteBackendProtocolWebSocket", "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError", "HTTPRouteParentRefPort",
    "HTTPRouteNamedRouteRule", "HTTPRouteCORS", "HTTPRouteBackendURLRewrite",
    "HTTPRouteBackendRequestRedirect",
)
BACKEND_TLS = ("BackendTLSPolicy", "BackendTLSPolicySANValidation")

CORE: dict[str, tuple[str, ...]] = {
    "GATEWAY-HTTP": ("Gateway", "ReferenceGrant", "HTTPRoute"),
    "GATEWAY-TLS": ("Gateway", "ReferenceGrant", "TLSRoute"),
    "GATEWAY-GRPC": ("Gateway", "ReferenceGrant", "GRPCRoute"),
    "GATEWAY-TCP": ("Gateway", "ReferenceGrant", "TCPRoute"),
    "GATEWAY-UDP": ("Gateway", "ReferenceGrant", "UDPRoute"),
}
EXTENDED: dict[str, tuple[str, ...]] = {
    "GATEWAY-HTTP": GATEWAY_EXTENDED + HTTPROUTE_EXTENDED + BACKEND_TLS,
    "GATEWAY-TLS": GATEWAY_EXTENDED + ("TLSRouteModeTerminate", "TLSRouteModeMixed") + BACKEND_TLS,
    "GATEWAY-GRPC": GATEWAY_EXTENDED + BACKEND_TLS,
    # TCPRoute and UDPRoute are both core and extended features of their profile in v1.6.1
    "GATEWAY-TCP": GATEWAY_EXTENDED + ("TCPRoute",),
    "GATEWAY-UDP": GATEWAY_EXTENDED + ("UDPRoute",),
}


def of(features: Iterable[str]) -> dict[str, str]:
    """The profiles a test with these features counts toward, and at which level."""
    features = set(features)
    out = {}
    for profile, core in CORE.items():
        if features and features <= set(core) | set(EXTENDED[profile]):
            out[profile] = "core" if features <= set(core) else "extended"
    return out
