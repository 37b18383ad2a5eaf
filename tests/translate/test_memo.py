"""`translate(snapshot, memo)` over a sequence of passes equals `translate(snapshot)` each time.

Hypothesis drives random edits, the way the API server would see them (every write a new
resourceVersion, a new generation when anything but metadata and status changes; deleting and
creating again a new uid), to every input kind: HTTPRoutes, GRPCRoutes, TLSRoutes, TCPRoutes and
UDPRoutes created, changed and deleted, attached to the Gateway's listeners or to a ListenerSet's; the Gateway's
listeners changed (a hostname, an HTTPS listener and the namespace of its certificate, a TLS
passthrough listener), its frontend CA bundle, backend client certificate, allowedListeners and
parametersRef (beside its TCP and UDP listeners of one port); a ListenerSet in either namespace
with HTTP, HTTPS, TLS, UDP or conflicting listeners;
the GatewayClass's parametersRef and the GatewayParameters both name, and an EnvoyProxy the
Gateway may name instead (replacing or merged over the class's); Secrets with valid or
mismatched certificates and keys; ConfigMaps with a CA bundle or not PEM; a BackendTLSPolicy on a
Service; a ReferenceGrant from any of the kinds that refer across namespaces, to Services,
Secrets or ConfigMaps; Services and EndpointSlices changed (ports, endpoints, readiness);
Namespace labels toggled; Envoy Gateway policies (a SecurityPolicy's JWKS read from a Service
and a ConfigMap; its basicAuth and apiKeyAuth with their Opaque Secrets created, made
unusable, deleted and granted across namespaces); the statuses of the last result written back
(as the status writer does), or with other condition times (as another writer might); the
clock moving on. Half the sequences start from `FURNISHED`, a world where every kind is in use
and every reference resolves, so that edits break references that matter. After every edit, one pass with a
long-lived memo must give exactly the full rebuild's Result (statuses compared by object, not by
order; IRs; InfraIRs), and the xDS resources a long-lived `xds.translate.Translator` makes of its
IR must be those `xds.translate.translate` makes from scratch (the same bytes).
"""

from __future__ import annotations

import base64
import itertools
import operator
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from propylon.api.envoygateway import GROUP as EG_GROUP
from propylon.api.gateway import GROUP
from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate import translate
from propylon.translate.memo import Memo
from propylon.translate.types import Result, Snapshot
from propylon.xds.translate import Translator, XdsResources
from propylon.xds.translate import translate as xds_translate
from tests.translate.test_certificate_refs import (
    GOOD_PAIRS,
    NOT_PEM,
    bad_pair,
    good_pair,
)

GW = "gateway.networking.k8s.io/v1"
KEY = GatewayKey("ns1", "gw")
NAMESPACES = ("ns1", "ns2")
HOSTS = ("a.test", "b.test", "x.a.test", "c.test", "s.test")
TLS_HOSTS = ("x.t.test", "y.t.test", "a.test")
SERVICES = ("svc0", "svc1", "svc2")
INFRA = {KEY: InfraState(KEY, "127.0.0.9", tuple(PortState(p, p) for p in (80, 443, 8080, 8443)),
                         True)}
# (hostname of listener "sel", namespace of the HTTPS listener's certificate (None: no HTTPS
# listener), a TLS passthrough listener, namespace of the frontend CA bundle, the Gateway's
# backend client certificate, allowedListeners.namespaces.from, its parametersRef's name)
Knobs = tuple[str | None, str | None, bool, str | None, bool, str, str | None]
PLAIN: Knobs = (None, None, False, None, False, "None", None)
CERTIFICATES = {name: (good_pair(name) if name in GOOD_PAIRS else bad_pair(name))
                for name in ("ec-p256", "ed25519", "key does not match")}


class World:
    """The API server's objects, with resourceVersions and uids as it would set them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.versions = itertools.count(1)
        self.now = 0
        self.gateway_class(None)
        self.gateway(PLAIN)
        for ns in NAMESPACES:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace", ""), meta["name"])
        old = self.objects.get(key)
        version = next(self.versions)
        old_meta = (old or {}).get("metadata", {})
        generation = old_meta.get("generation", 0) + (old is None or _spec(obj) != _spec(old))
        obj["metadata"] = {**meta, "uid": old_meta.get("uid") or f"uid-{version}",
                           "resourceVersion": str(version), "generation": generation,
                           "creationTimestamp": old_meta.get("creationTimestamp")
                           or f"2026-01-01T00:00:{version % 60:02d}Z"}
        if old is not None and "status" in old and "status" not in obj:
            obj["status"] = old["status"]
        self.objects[key] = obj

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, namespace, name), None)

    def gateway_class(self, parameters: str | None) -> None:
        """Our GatewayClass; `parameters`: the namespace of its parametersRef to GatewayParameters
        "defaults" ("" leaves the namespace out, which is invalid)."""
        spec: dict[str, Any] = {"controllerName": "propylon.dev/gateway-controller"}
        if parameters is not None:
            spec["parametersRef"] = {"group": "propylon.dev", "kind": "GatewayParameters",
                                     "name": "defaults", **({"namespace": parameters}
                                                            if parameters else {})}
        self.put({"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "c"},
                  "spec": spec})

    def gateway(self, knobs: Knobs) -> None:
        hostname, cert, passthrough, ca, client, sets_from, parameters = knobs
        listeners: list[dict[str, Any]] = [
            {"name": "all", "port": 80, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "All"}}},
            {"name": "sel", "port": 8080, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
                 "matchLabels": {"team": "a"}}}}},
            *({"name": protocol.lower(), "port": 9000, "protocol": protocol,
               "allowedRoutes": {"namespaces": {"from": "All"}}} for protocol in ("TCP", "UDP"))]
        if hostname is not None:
            listeners[1]["hostname"] = hostname
        if cert is not None:
            listeners.append({"name": "https", "port": 443, "protocol": "HTTPS",
                              "allowedRoutes": {"namespaces": {"from": "All"}},
                              "tls": {"certificateRefs": [{"name": "cert", "namespace": cert}]}})
        if passthrough:
            listeners.append({"name": "tls", "port": 8443, "protocol": "TLS",
                              "hostname": "*.t.test", "tls": {"mode": "Passthrough"},
                              "allowedRoutes": {"namespaces": {"from": "All"}}})
        spec: dict[str, Any] = {"gatewayClassName": "c", "listeners": listeners,
                                "allowedListeners": {"namespaces": {"from": sets_from}}}
        if sets_from == "Selector":
            spec["allowedListeners"]["namespaces"]["selector"] = {"matchLabels": {"team": "a"}}
        tls: dict[str, Any] = {}
        if ca is not None:
            tls["frontend"] = {"default": {"validation": {"caCertificateRefs": [
                {"group": "", "kind": "ConfigMap", "name": "ca", "namespace": ca}]}}}
        if client:
            tls["backend"] = {"clientCertificateRef": {"name": "cert"}}
        if tls:
            spec["tls"] = tls
        if parameters == "proxy":
            spec["infrastructure"] = {"parametersRef": {
                "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": parameters}}
        elif parameters is not None:
            spec["infrastructure"] = {"parametersRef": {
                "group": "propylon.dev", "kind": "GatewayParameters", "name": parameters}}
        self.put({"apiVersion": GW, "kind": "Gateway",
                  "metadata": {"name": "gw", "namespace": "ns1"}, "spec": spec})

    def snapshot(self) -> Snapshot:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for key in sorted(self.objects):
            by_kind.setdefault(key[0], []).append(self.objects[key])
        return Snapshot({k: tuple(v) for k, v in by_kind.items()}, INFRA,
                        now=f"2026-01-01T01:00:{self.now:02d}Z")

    def write_statuses(self, result: Result, times: str | None = None) -> None:
        """Write `result`'s statuses, with every lastTransitionTime set to `times` if given."""
        for update in result.statuses:
            key = (update.kind, update.namespace or "", update.name)
            if key in self.objects:
                obj = dict(self.objects[key])
                status = update.status.to_json()
                obj["status"] = status if times is None else _retimed(status, times)
                self.put(obj)


def _retimed(value: Any, times: str) -> Any:
    if isinstance(value, dict):
        return {k: times if k == "lastTransitionTime" else _retimed(v, times)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_retimed(v, times) for v in value]
    return value


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server raises the generation for: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _other(ns: str) -> str:
    return NAMESPACES[1 - NAMESPACES.index(ns)]


names = st.sampled_from(("r0", "r1", "r2", "r3"))
namespaces = st.sampled_from(NAMESPACES)
backend = st.fixed_dictionaries({
    "name": st.sampled_from((*SERVICES, "missing")), "port": st.sampled_from((80, 81)),
}, optional={"namespace": namespaces, "weight": st.integers(0, 3)})
http_rule = st.fixed_dictionaries({
    "matches": st.lists(st.fixed_dictionaries({"path": st.fixed_dictionaries({
        "type": st.sampled_from(("PathPrefix", "Exact")),
        "value": st.sampled_from(("/", "/a", "/b"))})}), max_size=2),
    "backendRefs": st.lists(backend, max_size=2)},
    optional={"filters": st.just([{"type": "ExtensionRef", "extensionRef": {
        "group": "gateway.envoyproxy.io", "kind": "HTTPRouteFilter", "name": "hrf"}}]),
              # a session over several backends is a cluster of their endpoints
              "sessionPersistence": st.sampled_from((
                  {"sessionName": "s", "type": "Header"},
                  {"sessionName": "s", "absoluteTimeout": "10s",
                   "cookieConfig": {"lifetimeType": "Permanent"}}))})
gateway_parent = st.fixed_dictionaries(
    {"name": st.just("gw"), "namespace": st.just("ns1")},
    optional={"sectionName": st.sampled_from(("all", "sel", "https", "tls", "tcp", "udp",
                                              "none"))})
set_parent = st.fixed_dictionaries(
    {"kind": st.just("ListenerSet"), "name": st.just("ls"), "namespace": namespaces},
    optional={"sectionName": st.sampled_from(("http", "https", "tls", "udp"))})
parent = st.one_of(gateway_parent, set_parent)
spec = st.fixed_dictionaries({
    "parentRefs": st.lists(parent, min_size=1, max_size=2),
    "hostnames": st.lists(st.sampled_from(HOSTS), max_size=2, unique=True),
    "rules": st.lists(http_rule, max_size=2)})
grpc_spec = st.fixed_dictionaries({
    "parentRefs": st.lists(parent, min_size=1, max_size=1),
    "rules": st.lists(st.fixed_dictionaries({"backendRefs": st.lists(backend, max_size=1)}),
                      max_size=1)})
tls_spec = st.fixed_dictionaries({
    "parentRefs": st.lists(parent, min_size=1, max_size=2),
    "hostnames": st.lists(st.sampled_from(TLS_HOSTS), max_size=2, unique=True),
    "rules": st.lists(st.fixed_dictionaries({
        "backendRefs": st.lists(backend, min_size=1, max_size=2)}), min_size=1, max_size=1)})
l4_spec = st.fixed_dictionaries({  # a TCPRoute's or UDPRoute's
    "parentRefs": st.lists(parent, min_size=1, max_size=2),
    "rules": st.lists(st.fixed_dictionaries({
        "backendRefs": st.lists(backend, min_size=1, max_size=2)}), min_size=1, max_size=1)})
knobs = st.tuples(st.sampled_from((None, "*.a.test", "b.test")),
                  st.sampled_from((None, *NAMESPACES)), st.booleans(),
                  st.sampled_from((None, *NAMESPACES)), st.booleans(),
                  st.sampled_from(("None", "Same", "All", "Selector")),
                  st.sampled_from((None, "p", "absent", "proxy")))
# the listeners a ListenerSet may hold: "clash" takes the HTTPS listener's port for HTTP
SET_LISTENERS = ("http", "https", "tls", "udp", "clash")


def _service(name: str, ns: str, port: int, app: str | None) -> dict[str, Any]:
    port_spec: dict[str, Any] = {"name": "http", "port": port, "targetPort": 9000}
    if app is not None:
        port_spec["appProtocol"] = app
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [port_spec]}}


def _slice(name: str, ns: str, ready: list[bool]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 9000}],
            "endpoints": [{"addresses": [f"10.0.0.{i + 1}"], "conditions": {"ready": r}}
                          for i, r in enumerate(ready)]}


def _secret(ns: str, pair: str) -> dict[str, Any]:
    cert, key = CERTIFICATES[pair]
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "cert", "namespace": ns},
            "data": {"tls.crt": base64.b64encode(cert.encode()).decode(),
                     "tls.key": base64.b64encode(key.encode()).decode()}}


# what the credentials edit stores: htpasswd lines Envoy checks or not, API keys
CREDENTIALS = {"users": {".htpasswd": "u1:{SHA}tESsBmE/yNY3lb6a0L6vVQEZNqw=\n"},
               "users-md5": {".htpasswd": "u1:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\n"},
               "keys": {"client1": "key1", "client2": "key2"}}


def _credentials(ns: str, which: str) -> dict[str, Any]:
    """Opaque Secret "users" or "keys" in `ns` holding CREDENTIALS[which]."""
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": which.split("-")[0], "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode()
                     for k, v in CREDENTIALS[which].items()}}


def _config_map(ns: str, valid: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca", "namespace": ns},
            "data": {"ca.crt": CERTIFICATES["ec-p256"][0] if valid else NOT_PEM}}


def _grant(ns: str, froms: list[str], tos: list[str]) -> dict[str, Any]:
    """ReferenceGrant "g" in `ns`, from the other namespace's `froms` to `ns`'s `tos`."""
    return {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": ns},
            "spec": {"from": [{"group": EG_GROUP if k == "SecurityPolicy" else GROUP,
                               "kind": k, "namespace": _other(ns)} for k in froms],
                     "to": [{"group": "", "kind": k} for k in tos]}}


def _listener_set(ns: str, listeners: list[str], cert: str) -> dict[str, Any]:
    """ListenerSet "ls" of the Gateway; an HTTPS listener's certificate in namespace `cert`."""
    every = {"http": {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "c.test"},
             "https": {"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "s.test",
                       "tls": {"certificateRefs": [{"name": "cert", "namespace": cert}]}},
             "tls": {"name": "tls", "port": 8443, "protocol": "TLS", "hostname": "y.t.test",
                     "tls": {"mode": "Passthrough"}},
             "udp": {"name": "udp", "port": 9001, "protocol": "UDP"},
             "clash": {"name": "clash", "port": 443, "protocol": "HTTP"}}
    return {"apiVersion": GW, "kind": "ListenerSet", "metadata": {"name": "ls", "namespace": ns},
            "spec": {"parentRef": {"name": "gw", "namespace": "ns1"},
                     "listeners": [{**every[name],
                                    "allowedRoutes": {"namespaces": {"from": "All"}}}
                                   for name in listeners]}}


def _backend_tls(ns: str, service: str, roots: str) -> dict[str, Any]:
    """BackendTLSPolicy "btp" for `service`, trusting ConfigMap "ca" or the `roots` named."""
    validation: dict[str, Any] = {"hostname": "b.internal"}
    if roots == "ConfigMap":
        validation["caCertificateRefs"] = [{"group": "", "kind": "ConfigMap", "name": "ca"}]
    else:
        validation["wellKnownCACertificates"] = roots
    return {"apiVersion": GW, "kind": "BackendTLSPolicy",
            "metadata": {"name": "btp", "namespace": ns},
            "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": service}],
                     "validation": validation}}


def _eg_policy(kind: str, ns: str, target_kind: str, name: str, section: str | None,
               value: int, more: bool) -> dict[str, Any]:
    """An Envoy Gateway policy named after its target kind: retries, a load balancer (a
    cluster copy, hash policies on the routes; with `value` 2, weights from out-of-band load
    reports) and maybe timeouts, limits, a rate limit,
    compression and a response override with the ConfigMap "ca"'s body for a
    BackendTrafficPolicy; for a SecurityPolicy CORS (`value` 1; with extAuth from Service svc1
    when `more`), basic auth and API keys from the Secrets "users" and "keys" (2; "users" of
    the other namespace when `more`), or JWT (JWKS from Service svc0, from ConfigMap "ca" and
    from a DNS name over https) and authorization (by CIDR, header and method, and by the
    token's claims and scopes); client IP detection, a connection limit and early headers with
    rate-limit headers off for a ClientTrafficPolicy; `more` merges it."""
    spec: dict[str, Any] = {"targetRefs": [{"group": GW.rpartition("/")[0], "kind": target_kind,
                                            "name": name,
                                            **({"sectionName": section} if section else {})}]}
    if kind == "BackendTrafficPolicy":
        spec["retry"] = {"numRetries": value}
        spec["loadBalancer"] = {
            1: {"type": "ConsistentHash", "consistentHash": {"type": "Header",
                                                            "header": {"name": "x-user"}}},
            2: {"type": "BackendUtilization", "backendUtilization": {
                "outOfBand": {"reportingPeriod": "2s", "port": 3002}}},
        }.get(value, {"type": "LeastRequest"})
        if more:
            spec["timeout"] = {"tcp": {"connectTimeout": f"{value}s"}}
            spec["circuitBreaker"] = {"maxConnections": value}
            spec["healthCheck"] = {"passive": {"consecutive5XxErrors": value}}
            spec["rateLimit"] = {"type": "Local", "local": {"rules": [
                {"limit": {"requests": value, "unit": "Minute"}}]}}
            spec["compressor"] = [{"type": t} for t in ("Zstd", "Gzip")[:value]]
            spec["responseOverride"] = [{"match": {"statusCodes": [{"value": 500 + value}]},
                                         "response": {"body": {"type": "ValueRef", "valueRef": {
                                             "group": "", "kind": "ConfigMap", "name": "ca"}}}}]
    elif kind == "ClientTrafficPolicy":
        spec["clientIPDetection"] = {"xForwardedFor": {"numTrustedHops": value}}
        spec["connection"] = {"connectionLimit": {"value": value}}
        if more:
            spec["headers"] = {"earlyRequestHeaders": {"set": [{"name": "x-v",
                                                                 "value": str(value)}]},
                               "disableRateLimitHeaders": True}
    elif value == 1:
        spec["cors"] = {"allowOrigins": [f"https://{value}.example"], "allowMethods": ["GET"]}
        if more:  # the auth service's cluster follows svc1's edits and endpoints
            spec["extAuth"] = {"http": {"backendRef": {"name": "svc1", "port": 80},
                                        "path": f"/auth{value}"}}
    elif value == 2:
        spec["basicAuth"] = {"users": {"name": "users", **({"namespace": _other(ns)}
                                                           if more else {})},
                             **({"forwardUsernameHeader": "X-User"} if more else {})}
        spec["apiKeyAuth"] = {"credentialRefs": [{"name": "keys"}],
                              "extractFrom": [{"headers": ["X-API-KEY"]}]}
    else:
        spec["jwt"] = {"optional": more, "providers": [
            {"name": "remote", "remoteJWKS": {"uri": f"http://svc0.{ns}/jwks.json",
                                              "failedRefetchDuration": f"{value}s"}},
            {"name": "idp", "remoteJWKS": {"uri": f"https://idp{value}.example.com/jwks.json"}},
            {"name": "local", "localJWKS": {"type": "ValueRef",
                                            "valueRef": {"kind": "ConfigMap", "name": "ca"}}}]}
        spec["authorization"] = {"defaultAction": "Allow", "rules": [
            {"action": "Deny", "principal": {"clientCIDRs": ["10.0.0.0/8"],
                                             "headers": [{"name": "x-user", "values": ["a"]}]},
             "operation": {"methods": ["POST"]}},
            {"action": "Allow", "principal": {"jwt": {
                "provider": "remote", "scopes": ["read"],
                "claims": [{"name": "user.team", "values": [f"t{value}"]}]}}}]}
    if more and target_kind != "Gateway":
        spec["mergeType"] = "JSONMerge"
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": kind,
            "metadata": {"name": f"p-{target_kind.lower()}", "namespace": ns}, "spec": spec}


def _route_filter(ns: str, body: str) -> dict[str, Any]:
    """An HTTPRouteFilter answering 403 with an inline body or the ConfigMap "ca"'s."""
    value = {"type": "Inline", "inline": "%REQ(:METHOD)% no"} if body == "Inline" else {
        "type": "ValueRef", "valueRef": {"group": "", "kind": "ConfigMap", "name": "ca"}}
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "HTTPRouteFilter",
            "metadata": {"name": "hrf", "namespace": ns},
            "spec": {"directResponse": {"statusCode": 403, "body": value}}}


edit = st.one_of(
    st.tuples(st.just("route"), namespaces, names, spec),
    st.tuples(st.just("grpc"), namespaces, names, grpc_spec),
    st.tuples(st.just("tls"), namespaces, names, tls_spec),
    st.tuples(st.just("l4"), st.sampled_from(("TCPRoute", "UDPRoute")), namespaces, names,
              l4_spec),
    st.tuples(st.just("delete"), st.sampled_from(("HTTPRoute", "GRPCRoute", "TLSRoute",
                                                  "TCPRoute", "UDPRoute")),
              namespaces, names),
    st.tuples(st.just("service"), namespaces, st.sampled_from(SERVICES),
              st.sampled_from((80, 81)), st.sampled_from((None, "kubernetes.io/h2c"))),
    st.tuples(st.just("unservice"), namespaces, st.sampled_from(SERVICES)),
    st.tuples(st.just("endpoints"), namespaces, st.sampled_from(SERVICES),
              st.lists(st.booleans(), max_size=3)),
    st.tuples(st.just("grant"), namespaces,
              st.lists(st.sampled_from(("HTTPRoute", "TLSRoute", "UDPRoute", "Gateway",
                                        "ListenerSet", "SecurityPolicy")),
                       max_size=3, unique=True),
              st.lists(st.sampled_from(("Service", "Secret", "ConfigMap")), min_size=1,
                       max_size=2, unique=True)),
    st.tuples(st.just("labels"), namespaces, st.booleans()),
    st.tuples(st.just("gateway"), knobs),
    st.tuples(st.just("class"), st.sampled_from((None, "ns1", ""))),
    st.tuples(st.just("parameters"), st.sampled_from(("p", "defaults")),
              st.sampled_from((None, 1, 2))),
    st.tuples(st.just("envoyproxy"), st.sampled_from((None, 1, 2)), st.booleans()),
    st.tuples(st.just("secret"), namespaces, st.sampled_from((None, *CERTIFICATES))),
    st.tuples(st.just("configmap"), namespaces, st.sampled_from((None, True, False))),
    st.tuples(st.just("credentials"), namespaces,
              st.sampled_from(("users", "users-md5", "keys")), st.booleans()),
    st.tuples(st.just("listenerset"), namespaces,
              st.lists(st.sampled_from(SET_LISTENERS), max_size=3, unique=True), namespaces),
    st.tuples(st.just("backendtls"), namespaces, st.sampled_from(SERVICES),
              st.sampled_from((None, "ConfigMap", "System"))),
    st.tuples(st.just("policy"), st.sampled_from(("BackendTrafficPolicy", "SecurityPolicy",
                                                  "ClientTrafficPolicy")),
              namespaces, st.sampled_from(("Gateway", "HTTPRoute", "GRPCRoute")),
              st.sampled_from(("gw", *("r0", "r1"))), st.sampled_from((None, "http", "rule")),
              st.sampled_from((None, 1, 2, 3)), st.booleans()),
    st.tuples(st.just("routefilter"), namespaces, st.sampled_from((None, "Inline", "ValueRef"))),
    st.tuples(st.just("status")),
    st.tuples(st.just("clobber")),
    st.tuples(st.just("tick")),
)


def _apply(world: World, change: tuple[Any, ...], last: Result) -> None:
    match change:
        case ("route", ns, name, body):
            world.put({"apiVersion": GW, "kind": "HTTPRoute",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("grpc", ns, name, body):
            world.put({"apiVersion": GW, "kind": "GRPCRoute",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("tls", ns, name, body):
            world.put({"apiVersion": GW, "kind": "TLSRoute",
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("l4", kind, ns, name, body):
            world.put({"apiVersion": GW, "kind": kind,
                       "metadata": {"name": name, "namespace": ns}, "spec": body})
        case ("delete", kind, ns, name):
            world.delete(kind, ns, name)
        case ("service", ns, name, port, app):
            world.put(_service(name, ns, port, app))
        case ("unservice", ns, name):
            world.delete("Service", ns, name)
        case ("endpoints", ns, name, ready):
            world.put(_slice(name, ns, ready))
        case ("grant", ns, froms, tos):
            if froms:
                world.put(_grant(ns, froms, tos))
            else:
                world.delete("ReferenceGrant", ns, "g")
        case ("labels", ns, on):
            world.put({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": ns, "labels": {"team": "a"} if on else {}}})
        case ("gateway", gateway_knobs):
            world.gateway(gateway_knobs)
        case ("class", parameters):
            world.gateway_class(parameters)
        case ("parameters", name, replicas):
            if replicas is None:
                world.delete("GatewayParameters", "ns1", name)
            else:
                world.put({"apiVersion": "propylon.dev/v1alpha1", "kind": "GatewayParameters",
                           "metadata": {"name": name, "namespace": "ns1"},
                           "spec": {"replicas": replicas}})
        case ("envoyproxy", concurrency, merged):
            if concurrency is None:
                world.delete("EnvoyProxy", "ns1", "proxy")
            else:
                world.put({"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
                           "metadata": {"name": "proxy", "namespace": "ns1"},
                           "spec": {"concurrency": concurrency, "shutdown": {"drainTimeout": "5s"},
                                    **({"mergeType": "StrategicMerge"} if merged else {})}})
        case ("secret", ns, pair):
            if pair is None:
                world.delete("Secret", ns, "cert")
            else:
                world.put(_secret(ns, pair))
        case ("credentials", ns, which, present):
            if present:
                world.put(_credentials(ns, which))
            else:
                world.delete("Secret", ns, which.split("-")[0])
        case ("configmap", ns, valid):
            if valid is None:
                world.delete("ConfigMap", ns, "ca")
            else:
                world.put(_config_map(ns, valid))
        case ("listenerset", ns, listeners, cert):
            if listeners:
                world.put(_listener_set(ns, listeners, cert))
            else:
                world.delete("ListenerSet", ns, "ls")
        case ("backendtls", ns, service, roots):
            if roots is None:
                world.delete("BackendTLSPolicy", ns, "btp")
            else:
                world.put(_backend_tls(ns, service, roots))
        case ("routefilter", ns, body):
            if body is None:
                world.delete("HTTPRouteFilter", ns, "hrf")
            else:
                world.put(_route_filter(ns, body))
        case ("policy", kind, ns, target_kind, name, section, value, more):
            if value is None:
                world.delete(kind, ns, f"p-{target_kind.lower()}")
            else:
                world.put(_eg_policy(kind, ns, target_kind, name, section, value, more))
        case ("status",):
            world.write_statuses(last)
        case ("clobber",):  # someone else rewrites our conditions' times
            world.write_statuses(last, "2000-01-01T00:00:00Z")
        case ("tick",):
            world.now += 1


_ROUTE = {"parentRefs": [{"name": "gw", "namespace": "ns1"}], "hostnames": ["a.test"],
          "rules": [{"matches": [], "backendRefs": [{"name": "svc0", "port": 80}]}]}


_TLS_ROUTE = {"parentRefs": [{"name": "gw", "namespace": "ns1", "sectionName": "tls"},
                            {"kind": "ListenerSet", "name": "ls", "namespace": "ns2"}],
              "hostnames": ["y.t.test"],
              "rules": [{"backendRefs": [{"name": "svc1", "namespace": "ns2", "port": 80}]}]}
# a world where every kind is used: HTTPS listeners of the Gateway and of a ListenerSet in ns2
# with their certificates, a TLS listener and TLSRoute, a frontend CA bundle, a backend client
# certificate, a BackendTLSPolicy with its CA bundle, GatewayParameters of the class and of the
# Gateway, and a ReferenceGrant that the cross-namespace references need
FURNISHED: list[tuple[Any, ...]] = [
    ("class", "ns1"), ("parameters", "defaults", 1), ("parameters", "p", 2),
    ("secret", "ns1", "ec-p256"), ("secret", "ns2", "ed25519"),
    ("configmap", "ns1", True), ("configmap", "ns2", True),
    ("gateway", ("*.a.test", "ns1", True, "ns1", True, "All", "p")),
    ("service", "ns1", "svc0", 80, None), ("endpoints", "ns1", "svc0", [True]),
    ("service", "ns2", "svc1", 80, None), ("endpoints", "ns2", "svc1", [True, False]),
    ("grant", "ns2", ["HTTPRoute", "TLSRoute", "Gateway", "ListenerSet"], ["Service", "Secret"]),
    ("listenerset", "ns2", ["http", "https", "tls"], "ns2"),
    ("route", "ns1", "r0", {**_ROUTE, "parentRefs": [
        {"name": "gw", "namespace": "ns1"},
        {"kind": "ListenerSet", "name": "ls", "namespace": "ns2"}],
        "hostnames": ["a.test", "c.test", "s.test"]}),
    ("tls", "ns1", "r1", _TLS_ROUTE),
    ("backendtls", "ns1", "svc0", "ConfigMap"),
]


@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.lists(edit, min_size=1, max_size=25))
# backend changes reach a route only through its lookups: endpoints scaled, the Service gone
@example(False, [("service", "ns1", "svc0", 80, None), ("route", "ns1", "r0", _ROUTE),
                 ("endpoints", "ns1", "svc0", [True]), ("endpoints", "ns1", "svc0", [False, True]),
                 ("status",), ("unservice", "ns1", "svc0"), ("service", "ns1", "svc0", 80, None)])
# a route's status not written yet follows the clock; a deleted route leaves its hostnames
@example(False, [("route", "ns1", "r0", _ROUTE), ("tick",), ("tick",), ("status",), ("tick",),
                 ("route", "ns2", "r0", _ROUTE), ("delete", "HTTPRoute", "ns1", "r0"),
                 ("tick",)])
# our status written back is recognised; one someone else changed is not taken for it
@example(False, [("route", "ns1", "r0", _ROUTE), ("status",), ("clobber",), ("tick",),
                 ("status",)])
# a hostname a ListenerSet's listener took from the Gateway's listener of its port goes back to
# it when the set is refused: that port's route table is of one listener again
@example(False, [("gateway", (None, None, False, None, False, "All", None)),
                 ("route", "ns1", "r0", {**_ROUTE, "hostnames": ["c.test"]}),
                 ("listenerset", "ns1", ["http"], "ns1"),
                 ("gateway", (None, None, False, None, False, "None", None))])
# every kind's object deleted in turn, and the references that need a grant losing it
@example(True, [("status",), ("secret", "ns2", None), ("configmap", "ns1", False),
                ("grant", "ns2", ["TLSRoute"], ["Service"]), ("parameters", "p", None),
                ("backendtls", "ns1", "svc0", None), ("listenerset", "ns2", [], "ns2"),
                ("delete", "TLSRoute", "ns1", "r1"), ("class", ""), ("status",), ("tick",)])
# an EnvoyProxy as the Gateway's parameters: missing, created, merged over the class's, gone
@example(False, [("class", "ns1"), ("parameters", "defaults", 1),
                 ("gateway", (None, None, False, None, False, "All", "proxy")),
                 ("envoyproxy", 2, False), ("tick",), ("envoyproxy", 1, True),
                 ("envoyproxy", None, False)])
# Envoy Gateway policies: a Gateway's, a route's merged over it, one removed again
@example(False, [("policy", "BackendTrafficPolicy", "ns1", "Gateway", "gw", None, 1, True),
                 ("route", "ns1", "r0", _ROUTE), ("service", "ns1", "svc0", 80, None),
                 ("policy", "BackendTrafficPolicy", "ns1", "HTTPRoute", "r0", None, 3, True),
                 ("status",), ("policy", "SecurityPolicy", "ns1", "HTTPRoute", "r0", None, 1,
                               False), ("tick",),
                 ("policy", "BackendTrafficPolicy", "ns1", "HTTPRoute", "r0", None, None, False)])
# limits: a rate-limited route, its listener's rate-limit headers turned off, then on again
@example(False, [("route", "ns1", "r0", _ROUTE), ("service", "ns1", "svc0", 80, None),
                 ("policy", "BackendTrafficPolicy", "ns1", "HTTPRoute", "r0", None, 3, True),
                 ("policy", "ClientTrafficPolicy", "ns1", "Gateway", "gw", None, 2, True),
                 ("status",),
                 ("policy", "ClientTrafficPolicy", "ns1", "Gateway", "gw", None, 2, False)])
# a SecurityPolicy's credentials: Secrets created, made unusable, deleted under it; one in the
# other namespace granted, then no more
@example(False, [("route", "ns1", "r0", _ROUTE), ("service", "ns1", "svc0", 80, None),
                 ("policy", "SecurityPolicy", "ns1", "HTTPRoute", "r0", None, 2, False),
                 ("credentials", "ns1", "users", True), ("credentials", "ns1", "keys", True),
                 ("status",), ("credentials", "ns1", "users-md5", True), ("status",),
                 ("credentials", "ns1", "users", True),
                 ("policy", "SecurityPolicy", "ns1", "Gateway", "gw", None, 2, True),
                 ("credentials", "ns1", "keys", False), ("tick",),
                 ("credentials", "ns2", "users", True),
                 ("policy", "SecurityPolicy", "ns1", "HTTPRoute", "r0", None, 2, True),
                 ("grant", "ns2", ["SecurityPolicy"], ["Secret"]), ("status",),
                 ("grant", "ns2", ["HTTPRoute"], ["Secret"])])
def test_passes_with_a_memo_equal_the_full_rebuild(furnished: bool,
                                                   changes: list[tuple[Any, ...]]) -> None:
    world = World()
    for change in FURNISHED if furnished else ():
        _apply(world, change, Result((), {}, {}))
    memo = Memo()
    xds = Translator()
    last = translate(world.snapshot(), memo)
    for change in changes:
        _apply(world, change, last)
        snapshot = world.snapshot()
        last = translate(snapshot, memo)
        assert _canonical(last) == _canonical(translate(snapshot)), change
        for ir in last.gateways.values():
            assert _serialized(xds(ir)) == _serialized(xds_translate(ir)), change


def _canonical(result: Result) -> tuple[object, ...]:
    """A Result with its statuses by object (their order is not part of the contract)."""
    statuses = {(u.kind, u.namespace, u.name): u for u in result.statuses}
    assert len(statuses) == len(result.statuses)
    return statuses, result.gateways, result.infra


def _serialized(resources: XdsResources) -> tuple[object, ...]:
    return tuple((t, {n: m.SerializeToString(deterministic=True) for n, m in by_name.items()})
                 for t, by_name in sorted(resources.by_type.items()))


def test_an_unchanged_pass_reuses_every_route() -> None:
    world = World()
    world.put(_service("svc0", "ns1", 80, None))
    for i in range(3):
        world.put({"apiVersion": GW, "kind": "HTTPRoute",
                   "metadata": {"name": f"r{i}", "namespace": "ns1"},
                   "spec": {"parentRefs": [{"name": "gw"}],
                            "rules": [{"backendRefs": [{"name": "svc0", "port": 80}]}]}})
    memo = Memo()
    world.write_statuses(translate(world.snapshot(), memo))
    translate(world.snapshot(), memo)
    misses = memo.misses
    translate(world.snapshot(), memo)
    assert memo.misses == misses


def test_an_unchanged_pass_keeps_the_logged_listeners() -> None:
    """Access logs (the default) on every listener: a pass with nothing changed gives the
    very same listeners and clusters, which the xDS translator then reuses without comparing
    them."""
    world = World()
    world.put(_service("svc0", "ns1", 80, None))
    world.put({"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "ns1"},
               "spec": {"parentRefs": [{"name": "gw"}],
                        "rules": [{"backendRefs": [{"name": "svc0", "port": 80}]}]}})
    memo = Memo()
    world.write_statuses(translate(world.snapshot(), memo))
    first = translate(world.snapshot(), memo).gateways
    assert all(li.access_logs for ir in first.values() for li in ir.listeners)
    again = translate(world.snapshot(), memo).gateways
    for key, ir in first.items():
        assert all(map(operator.is_, again[key].listeners, ir.listeners))
        assert all(map(operator.is_, again[key].clusters, ir.clusters))
