"""GatewayClass status: ours are those whose controllerName is the snapshot's; each is Accepted
(unless its parametersRef is invalid: Accepted False, InvalidParameters) with SupportedVersion
True and lists `supportedFeatures` (the features translated here and covered by golden tests).
Classes of other controllers get no status from us.
"""

from __future__ import annotations

from typing import Any

from propylon.api.gateway import GatewayClass
from propylon.api.meta import status_conditions
from propylon.translate import conditions as c
from propylon.translate.parameters import ParametersError, ParametersNote
from propylon.translate.statuses import GatewayClassStatus
from propylon.translate.types import Now, StatusUpdate

SUPPORTED_FEATURES = tuple(sorted((
    "Gateway",
    "HTTPRoute",
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "GRPCRouteRequestHeaderModifier",
    "ReferenceGrant",
    "ListenerSet",
    "TLSRoute",
    "TLSRouteModeTerminate",
    "TLSRouteModeMixed",
    "TCPRoute",
    "UDPRoute",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",  # labels and annotations on the proxy's objects
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteQueryParamMatching",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteSchemeRedirect",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteBackendTimeout",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendURLRewrite",  # on a rule's only backendRef
    "HTTPRouteBackendRequestRedirect",  # on a rule's only backendRef
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteParentRefPort",
    "HTTPRouteDestinationPortMatching",  # a parentRef.port no listener has: NoMatchingParent
    "HTTPRouteNamedRouteRule",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteCORS",
    "GatewayPort8080",
    "GatewayHTTPListenerIsolation",
    "GatewayStaticAddresses",  # loopback addresses; others are AddressNotUsable
    "GatewayAddressEmpty",  # a value-less IPAddress entry gets a pool address
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    "GatewayBackendClientCertificate",
)))


def class_status(obj: dict[str, Any], gc: GatewayClass, now: Now,
                 parameters: ParametersError | ParametersNote | None = None) -> StatusUpdate:
    conds = c.Conditions(status_conditions(obj), gc.meta.generation, now)
    if isinstance(parameters, ParametersError):
        conds.set(c.ACCEPTED, False, c.INVALID_PARAMETERS, parameters.message)
    else:
        accepted = "the GatewayClass is accepted by this controller"
        conds.set(c.ACCEPTED, True, "Accepted", accepted if parameters is None
                  else f"{accepted}; {parameters.message}")
    conds.set(c.SUPPORTED_VERSION, True, "SupportedVersion",
              "the Gateway API version of this GatewayClass is supported")
    return StatusUpdate(str(obj.get("apiVersion", "gateway.networking.k8s.io/v1")), "GatewayClass",
                        None, gc.meta.name, gc.meta.generation,
                        GatewayClassStatus(conds.as_tuple(), SUPPORTED_FEATURES))
