"""The resource kinds Propylon knows, as data.

Every other layer asks this table how a kind is addressed: its API group and version, its plural
(the URL segment), whether it is namespaced, its short names and categories (so `kubectl get gtw`
and `kubectl get gateway-api` work), whether it has a status subresource, and the printer columns
that the API server turns into Table cells for `kubectl get`. The Gateway API and Envoy Gateway
columns are the ones the upstream CRDs declare; the built-in kinds are printed by code, as
kube-apiserver prints them. Older
versions the upstream CRDs still serve (v1beta1 of HTTPRoute, ...) are listed apart
(`OLDER_SERVED_VERSIONS`, `served_versions`); `KINDS` holds each kind once, in the version it is
stored and watched in.

Nothing here does I/O; the embedded API server, the controller's informers and the CLI all read
the same `KINDS` tuple.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GATEWAY_GROUP = "gateway.networking.k8s.io"
PROPYLON_GROUP = "propylon.dev"  # Propylon's own kinds (GatewayParameters)
ENVOY_GATEWAY_GROUP = "gateway.envoyproxy.io"  # Envoy Gateway's policy API (issue 13)


@dataclass(frozen=True)
class PrinterColumn:
    """One column of `kubectl get`: `json_path` is evaluated on the object (first result)."""

    name: str
    type: str  # "string" | "integer" | "date" | "boolean"
    json_path: str
    priority: int = 0  # > 0: only shown with -o wide
    description: str = ""


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


@dataclass(frozen=True)
class KindInfo:
    """How one kind is served and addressed."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = True
    columns: tuple[PrinterColumn, ...] = (AGE,)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version


def _gw(kind: str, plural: str, short: tuple[str, ...], columns: tuple[PrinterColumn, ...],
        namespaced: bool = True, version: str = "v1") -> KindInfo:
    return KindInfo(GATEWAY_GROUP, version, kind, plural, kind.lower(), namespaced, short,
                    ("gateway-api",), True, columns)


KINDS: tuple[KindInfo, ...] = (
    _gw("GatewayClass", "gatewayclasses", ("gc",), (
        PrinterColumn("Controller", "string", ".spec.controllerName"),
        PrinterColumn("Accepted", "string", '.status.conditions[?(@.type=="Accepted")].status'),
        AGE,
        PrinterColumn("Description", "string", ".spec.description", priority=1),
    ), namespaced=False),
    _gw("Gateway", "gateways", ("gtw",), (
        PrinterColumn("Class", "string", ".spec.gatewayClassName"),
        PrinterColumn("Address", "string", ".status.addresses[*].value"),
        PrinterColumn("Programmed", "string", '.status.conditions[?(@.type=="Programmed")].status'),
        AGE,
    )),
    _gw("HTTPRoute", "httproutes", (), (
        PrinterColumn("Hostnames", "string", ".spec.hostnames"),
        AGE,
    )),
    _gw("GRPCRoute", "grpcroutes", (), (
        PrinterColumn("Hostnames", "string", ".spec.hostnames"),
        AGE,
    )),
    _gw("TLSRoute", "tlsroutes", (), (AGE,)),
    _gw("TCPRoute", "tcproutes", (), (AGE,)),
    _gw("UDPRoute", "udproutes", (), (AGE,)),
    _gw("ListenerSet", "listenersets", ("lset",), (
        PrinterColumn("Accepted", "string", '.status.conditions[?(@.type=="Accepted")].status'),
        PrinterColumn("Programmed", "string", '.status.conditions[?(@.type=="Programmed")].status'),
        AGE,
    )),
    _gw("ReferenceGrant", "referencegrants", ("refgrant",), (AGE,)),
    _gw("BackendTLSPolicy", "backendtlspolicies", ("btlspolicy",), (AGE,)),
    KindInfo(PROPYLON_GROUP, "v1alpha1", "GatewayParameters", "gatewayparameters",
             "gatewayparameters", True, ("gwparams",), ("propylon",), False, (
                 PrinterColumn("Replicas", "integer", ".spec.replicas"),
                 PrinterColumn("Service-Type", "string", ".spec.serviceType"),
                 AGE,
             )),
    # Envoy Gateway's kinds, named and with the columns their CRDs declare; their schemas are
    # read from those CRDs at run time (`apiserver/policy_schemas.py`)
    *(KindInfo(ENVOY_GATEWAY_GROUP, "v1alpha1", kind, plural, kind.lower(), True, (short,),
               () if kind == "EnvoyExtensionPolicy" else ("envoy-gateway",),
               kind != "HTTPRouteFilter", columns)
      for kind, plural, short, columns in (
          ("SecurityPolicy", "securitypolicies", "sp", (AGE,)),
          ("BackendTrafficPolicy", "backendtrafficpolicies", "btp", (AGE,)),
          ("ClientTrafficPolicy", "clienttrafficpolicies", "ctp", (AGE,)),
          ("EnvoyExtensionPolicy", "envoyextensionpolicies", "eep", (AGE,)),
          ("HTTPRouteFilter", "httproutefilters", "hrf", (AGE,)),
          ("Backend", "backends", "be", (
              PrinterColumn("Status", "string",
                            '.status.conditions[?(@.type=="Accepted")].reason'), AGE)),
          ("EnvoyProxy", "envoyproxies", "eproxy", (AGE,)),
          ("EnvoyPatchPolicy", "envoypatchpolicies", "epp", (
              PrinterColumn("Accepted", "string",
                            '.status.ancestors[0].conditions[?(@.type=="Accepted")].status'),
              PrinterColumn("Programmed", "string",
                            '.status.ancestors[0].conditions[?(@.type=="Programmed")].status'),
              AGE)),
      )),
    # The built-in kinds are printed by the API server's own printers (apiserver/printers.py),
    # as kube-apiserver prints them, not from JSONPath columns.
    KindInfo("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), (), True),
    KindInfo("", "v1", "Service", "services", "service", True, ("svc",), ("all",), True),
    KindInfo("", "v1", "Secret", "secrets", "secret", True, (), (), False),
    KindInfo("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), (), False),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",), (),
             False),
    KindInfo("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",), True),
    KindInfo("", "v1", "Event", "events", "event", True, ("ev",), (), False),
    KindInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
             (), (), False),
    KindInfo("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
             True),
    KindInfo("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, (), (), False),
    KindInfo("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets",
             "poddisruptionbudget", True, ("pdb",), (), True),
    KindInfo("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
             "horizontalpodautoscaler", True, ("hpa",), ("all",), True),
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",), (),
             True),
    KindInfo("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", False,
             (), (), False),
)

# Older versions that the official Gateway API v1.6.1 CRDs (standard channel) still serve, each
# with the same schema as v1. The API server serves them too: it stores an object once, in the
# version of `KINDS` (the storage version, which the controller watches), and returns it in the
# version a request asks for.
OLDER_SERVED_VERSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (GATEWAY_GROUP, "GatewayClass"): ("v1beta1",),
    (GATEWAY_GROUP, "Gateway"): ("v1beta1",),
    (GATEWAY_GROUP, "HTTPRoute"): ("v1beta1",),
    (GATEWAY_GROUP, "ReferenceGrant"): ("v1beta1",),
    # deprecated, served by the experimental channel; the conformance manifests still use it
    (GATEWAY_GROUP, "TCPRoute"): ("v1alpha2",),
    (GATEWAY_GROUP, "UDPRoute"): ("v1alpha2",),
}

_BY_KIND: dict[tuple[str, str], KindInfo] = {(k.group, k.kind): k for k in KINDS}


def served_versions(info: KindInfo) -> tuple[KindInfo, ...]:
    """`info` followed by the older served versions of its kind (`OLDER_SERVED_VERSIONS`)."""
    return (info, *(replace(info, version=version)
                    for version in OLDER_SERVED_VERSIONS.get((info.group, info.kind), ())))


def by_kind(kind: str, group: str | None = None) -> KindInfo:
    """The KindInfo of `kind` (in `group`, or the only kind of that name). KeyError if unknown."""
    if group is not None:
        return _BY_KIND[(group, kind)]
    matches = [k for k in KINDS if k.kind == kind]
    if len(matches) != 1:
        raise KeyError(kind)
    return matches[0]


def by_api_version(api_version: str, kind: str) -> KindInfo:
    """The KindInfo of an object's `apiVersion` (any served version) and `kind`. KeyError if
    not served."""
    group = api_version.rpartition("/")[0]
    for info in served_versions(_BY_KIND[(group, kind)]):
        if info.api_version == api_version:
            return info
    raise KeyError(f"{api_version} {kind}")


def resolve(name: str) -> KindInfo:
    """Resolve what a user typed (`gateway`, `gateways`, `gtw`, `Gateway`,
    `gateways.gateway.networking.k8s.io`) to one kind, as kubectl does. KeyError if unknown."""
    word, _, group = name.lower().partition(".")
    for k in KINDS:
        if group and k.group != group:
            continue
        if word in (k.plural, k.singular, k.kind.lower()) or word in k.short_names:
            return k
    raise KeyError(name)
