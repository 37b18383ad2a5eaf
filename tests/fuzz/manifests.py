"""Hypothesis strategies for whole sets of Gateway API manifests ("worlds").

A world is what one user might apply at once: a GatewayClass of ours, Gateways with HTTP, HTTPS,
TLS, TCP and UDP listeners (hostnames, ports, allowedRoutes, certificateRefs, frontend validation), a
ListenerSet, `kubernetes.io/tls` Secrets and a CA ConfigMap (valid material, generated once),
Services with EndpointSlices, HTTPRoutes, GRPCRoutes, TLSRoutes, TCPRoutes and UDPRoutes
(TCP and UDP listeners too, on ports other listeners may use) using every match kind and
filter, ReferenceGrants and BackendTLSPolicies. Values follow the CRD schemas' rules at their edges
(header names of every token character, header values with any character, very long values,
unicode, huge weights, many rules, duplicates) and sometimes break them (so the API validation
has something to refuse). A few regular expressions are ones Envoy's RE2 refuses and one Secret
holds the key of another certificate: the translation must leave those pieces out too.

Namespaces are "a" and "b" and the GatewayClass "gc"; `placed(objects, i)` renames them for
world `i`, so that many worlds can share one Envoy bootstrap without a name in common.
"""

from __future__ import annotations

import string
from functools import cache
from typing import Any

import re2
from hypothesis import strategies as st

from propylon.conformance.tlsmaterial import KeyPair, issue, tls_secret

GW = "gateway.networking.k8s.io/v1"
CONTROLLER = "propylon.dev/gateway-controller"
NAMESPACES = ("a", "b")
SERVICES = ("svc0", "svc1")
SECRETS = ("cert0", "cert1", "mismatched")
CA_CONFIG_MAP = "ca"
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"

Obj = dict[str, Any]


@cache
def material() -> tuple[Obj, ...]:
    """The Secrets (certificate and key of `*.test` names; "mismatched" holds the key of
    another certificate) and the CA ConfigMap of namespace "a", generated once per run."""
    ca = issue("fuzz-ca", ca=True)
    pairs = [issue(name, ("*.test", "a.test"), ca) for name in SECRETS]
    pairs[-1] = KeyPair(pairs[-1].cert, pairs[0].key)  # its key is another certificate's
    secrets = tuple(tls_secret("a", name, pair) for name, pair in zip(SECRETS, pairs, strict=True))
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"namespace": "a", "name": CA_CONFIG_MAP},
                  "data": {"ca.crt": ca.cert_pem.decode()}}
    return (*secrets, config_map)


def placed(objects: list[Obj], world: int) -> list[Obj]:
    """`objects` with namespaces "a"/"b" and the GatewayClass "gc" renamed for world `world`."""
    def rename(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: rename(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v, key) for v in value]
        if (key, value) in (("namespace", "a"), ("namespace", "b"), ("gatewayClassName", "gc")):
            return f"w{world}-{value}"
        return value

    out = []
    for obj in objects:
        obj = rename(obj)
        if obj["kind"] in ("Namespace", "GatewayClass"):
            obj["metadata"]["name"] = f"w{world}-{obj['metadata']['name']}"
        out.append(obj)
    return out


# ------------------------------------------------------------------------------------ values

def _odd(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `valid`, about once in 40 draws `odd` (which the schema may refuse): an object
    has dozens of such fields, and most objects should get through. The odd draw is a middle
    value, since Hypothesis favours the ends of a range."""
    return st.integers(0, 39).flatmap(lambda n: odd if n == 17 else valid)


def long_text(limit: int) -> st.SearchStrategy[str]:
    """A value of up to `limit` characters, sometimes longer."""
    return _odd(st.integers(limit // 4, limit), st.integers(limit + 1, limit + 100)).map(
        lambda n: "v" * n)


def header_value(limit: int) -> st.SearchStrategy[str]:
    """A header value of up to `limit` characters: control characters, `%`, unicode."""
    return st.one_of(
        st.sampled_from(("a\nb", "a\rb", "a\x00b", " padded ", "%{VAR}%", "%", "ünïcødé",
                         "\t")),
        st.text(string.printable, min_size=1, max_size=20), st.text(min_size=1, max_size=20),
        long_text(limit))


any_text = st.text(max_size=40)
label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10).map(
    lambda s: f"x{s}")
hostname = _odd(
    st.one_of(st.sampled_from(("a.test", "b.a.test", "*.a.test", "*.test", "c.test")),
              st.lists(label, min_size=1, max_size=4).map(lambda ls: ".".join(ls) + ".test"),
              st.integers(1, 4).map(lambda n: ".".join(["l" * 60] * n) + ".test")),
    st.one_of(any_text, st.sampled_from(("*", "A.test", "ü.test", "a..test", "-a.test"))))
header_name = _odd(
    st.one_of(st.text(TOKEN, min_size=1, max_size=12),
              st.sampled_from(("Host", "host", "content-length", "Connection", "te",
                               "transfer-encoding", "x-envoy-original-path", "upgrade",
                               "keep-alive", "x-forwarded-for", "cookie", "set-cookie")),
              st.just("h" * 256)),
    st.one_of(any_text, st.sampled_from((":path", ":authority", "a b", ""))))

regex = st.one_of(  # RE2-valid ones, or one Envoy's RE2 refuses
    st.sampled_from(("/[a-z]+", "/v[0-9]{1,3}/.*", ".*", "^/api(/.*)?$", "(?i)/x", "/\\d+",
                     "[[:alpha:]]+", "a|b|", "/\\p{Greek}+")),
    st.text(max_size=20).filter(lambda p: _re2_ok(p)),
    st.sampled_from(("/(?<=bar)x", "/(a)\\1", "/a{1001}", "/\\x{100}", "/" + "a" * 96)))


_QUIET = re2.Options()
_QUIET.log_errors = False


def _re2_ok(pattern: str) -> bool:
    try:
        re2.compile(pattern, _QUIET)
    except re2.error:
        return False
    return True


path_chars = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%"
path_value = _odd(st.text(path_chars, max_size=30).map(lambda s: "/" + s),
                  st.one_of(any_text, st.just("/" + "p" * 1100), st.just("/a\nb")))
weight = st.one_of(st.integers(0, 3), st.sampled_from((999_999, 1_000_000)),
                   st.integers(0, 1_000_000))
port = _odd(st.sampled_from((80, 81)), st.sampled_from((0, 65535, 65536, 1)))
duration = _odd(st.sampled_from(("1s", "0s", "500ms", "1h", "99999h99999m99999s99999ms", "10ms")),
                any_text)
namespace_ref = st.sampled_from(NAMESPACES)


def _opt(required: dict[str, st.SearchStrategy[Any]],
         optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Obj]:
    return st.fixed_dictionaries(required, optional=optional)


object_ref = _opt({"name": st.sampled_from((*SERVICES, "missing")), "port": port},
                  {"namespace": namespace_ref, "kind": st.sampled_from(("Service", "Bogus")),
                   "group": st.sampled_from(("", "example.com"))})
backend_ref = st.one_of(object_ref, st.tuples(object_ref, weight).map(
    lambda t: {**t[0], "weight": t[1]}))
header_values = st.lists(
    st.fixed_dictionaries({"name": header_name, "value": header_value(4096)}), max_size=2,
    unique_by=lambda h: h["name"].lower())
header_modifier = _opt({}, {"set": header_values, "add": header_values,
                            "remove": st.lists(st.one_of(header_name, any_text), max_size=2,
                                               unique=True)})
replacement_path = st.one_of(  # the schema sets no pattern: anything up to 1024 characters
    path_value, st.sampled_from(("", "/", "abc", "/a\nb", "/a\\1b", "/$1", "/%41", "/ü")),
    any_text)
path_modifier = st.one_of(
    st.fixed_dictionaries({"type": st.just("ReplaceFullPath"),
                           "replaceFullPath": replacement_path}),
    st.fixed_dictionaries({"type": st.just("ReplacePrefixMatch"),
                           "replacePrefixMatch": replacement_path}))
mirror = st.one_of(
    _opt({"backendRef": object_ref}, {"percent": st.integers(0, 100)}),
    st.integers(1, 2**31 - 1).flatmap(lambda d: st.fixed_dictionaries({
        "backendRef": object_ref,
        "fraction": st.fixed_dictionaries({"numerator": st.integers(0, d),
                                           "denominator": st.just(d)})})))
origin = st.one_of(st.sampled_from(("*", "https://a.test", "http://*.a.test:8080",
                                    "https://*", "http://x")), any_text)
cors = _opt({}, {
    "allowOrigins": _odd(st.one_of(st.just(["*"]), st.lists(origin.filter(lambda o: o != "*"),
                                                             max_size=3, unique=True)),
                         st.lists(origin, max_size=3)),
    "allowMethods": _odd(st.one_of(st.just(["*"]), st.lists(st.sampled_from(
        ("GET", "POST", "PATCH", "OPTIONS")), max_size=3, unique=True)),
        st.lists(st.sampled_from(("*", "BREW", "GET")), max_size=3)),
    "allowHeaders": st.lists(header_name.filter(lambda h: h != "*"), max_size=3, unique=True),
    "exposeHeaders": st.lists(header_name, max_size=3, unique=True),
    "maxAge": _odd(st.one_of(st.integers(1, 10**6), st.just(2**31 - 1)),
                   st.one_of(st.just(0), st.just(2**31), any_text)),
    "allowCredentials": _odd(st.booleans(), any_text),
})
precise_hostname = hostname.map(lambda h: h.removeprefix("*."))
http_filter = st.one_of(
    st.fixed_dictionaries({"type": st.just("RequestHeaderModifier"),
                           "requestHeaderModifier": header_modifier}),
    st.fixed_dictionaries({"type": st.just("ResponseHeaderModifier"),
                           "responseHeaderModifier": header_modifier}),
    st.fixed_dictionaries({"type": st.just("RequestRedirect"), "requestRedirect": _opt({}, {
        "scheme": st.sampled_from(("http", "https")), "hostname": precise_hostname, "port": port,
        "path": path_modifier, "statusCode": st.sampled_from((301, 302, 303, 307, 308))})}),
    st.fixed_dictionaries({"type": st.just("URLRewrite"), "urlRewrite": _opt(
        {}, {"hostname": precise_hostname, "path": path_modifier})}),
    st.fixed_dictionaries({"type": st.just("RequestMirror"), "requestMirror": mirror}),
    st.fixed_dictionaries({"type": st.just("CORS"), "cors": cors}),
)
extension_ref = st.just({"type": "ExtensionRef", "extensionRef": {
    "group": "example.com", "kind": "Thing", "name": "t"}})
http_filter = _odd(http_filter, extension_ref)  # unsupported: the whole route is refused
filters = st.lists(http_filter, max_size=2, unique_by=lambda f: f["type"]).filter(
    lambda fs: not {"RequestRedirect", "URLRewrite"} <= {f["type"] for f in fs})


def string_match(limit: int) -> st.SearchStrategy[Obj]:
    """A header (values up to 4096 characters) or query parameter (1024) match."""
    return st.one_of(
        _opt({"name": header_name, "value": header_value(limit)}, {"type": st.just("Exact")}),
        st.fixed_dictionaries({"name": header_name, "value": regex.filter(bool),
                               "type": st.just("RegularExpression")}))


http_match = _opt({}, {
    "path": st.one_of(
        _opt({}, {"type": st.sampled_from(("Exact", "PathPrefix")), "value": path_value}),
        st.fixed_dictionaries({"type": st.just("RegularExpression"), "value": regex})),
    "headers": st.lists(string_match(4096), max_size=2, unique_by=lambda m: m["name"].lower()),
    "queryParams": st.lists(string_match(1024), max_size=2,
                            unique_by=lambda m: m["name"]),
    "method": st.sampled_from(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                               "TRACE", "PATCH")),
})
_rule_body = _opt({}, {
    "matches": st.lists(http_match, max_size=2),
    "filters": filters,
    "backendRefs": st.lists(st.one_of(backend_ref, backend_ref.flatmap(
        lambda b: filters.map(lambda fs: {**b, "filters": fs}))), max_size=2),
    "timeouts": _opt({}, {"request": duration, "backendRequest": st.sampled_from(("1ms", "0s"))}),
    "retry": _opt({}, {"attempts": st.one_of(st.integers(1, 5), st.sampled_from(
        (2**32 - 1, 2**32, 2**63 - 1)), st.integers(1, 2**40)),
                       "codes": st.lists(st.integers(400, 599), max_size=3, unique=True),
                       "backoff": duration}),
}).map(lambda rule: {k: v for k, v in rule.items() if k != "backendRefs"} if any(
    f["type"] == "RequestRedirect" for f in rule.get("filters", ())) else rule)
session_persistence = _odd(st.none(), st.one_of(  # served, or refused when unusable
    st.just({"sessionName": "s", "type": "Cookie"}),
    st.dictionaries(any_text, any_text, max_size=2)))
http_rule = st.tuples(_rule_body, session_persistence).map(
    lambda t: t[0] if t[1] is None else {**t[0], "sessionPersistence": t[1]})
parent_ref = st.one_of(
    st.just({"name": "gw", "namespace": "a"}), st.just({"name": "gw"}),
    _opt({"group": st.just("gateway.networking.k8s.io"), "kind": st.just("ListenerSet"),
          "name": st.just("ls")}, {"sectionName": st.sampled_from(("s0", "s1"))}),
    _opt({"name": st.sampled_from(("gw", "gw2", "missing"))}, {
        "namespace": namespace_ref, "sectionName": st.sampled_from(("l0", "l1", "l2", "none")),
        "port": st.sampled_from((80, 443, 8080, 8443))}))
route_common = {"parentRefs": st.lists(parent_ref, min_size=1, max_size=2, unique_by=repr),
                "hostnames": st.lists(hostname, max_size=3)}
grpc_method = _opt({"service": _odd(st.sampled_from(("pkg.Svc", "a.b.C", "_x")), any_text)},
                   {"type": st.just("Exact"),
                    "method": _odd(st.sampled_from(("Get", "do_it")), any_text)})
grpc_rule = _opt({}, {
    "matches": st.lists(_opt({}, {
        "method": st.one_of(grpc_method, st.fixed_dictionaries({
            "type": st.just("RegularExpression"), "service": regex.filter(bool),
            "method": regex.filter(bool)})),
        "headers": st.lists(string_match(4096), max_size=2,
                            unique_by=lambda m: m["name"].lower())}),
        max_size=3),
    "filters": st.lists(http_filter.filter(lambda f: f["type"] in (
        "RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "ExtensionRef")),
        max_size=2, unique_by=lambda f: f["type"]),
    "backendRefs": st.lists(backend_ref, max_size=3),
})


def _route(kind: str, api: str, spec: st.SearchStrategy[Obj]) -> st.SearchStrategy[Obj]:
    names = st.sampled_from(("r0", "r1", "r2"))
    return st.tuples(st.sampled_from(("a", "a", "b")), names, spec).map(
        lambda t: {"apiVersion": api, "kind": kind,
                   "metadata": {"namespace": t[0], "name": t[1]}, "spec": t[2]})


http_route = _route("HTTPRoute", GW, _opt(
    {**route_common, "rules": st.lists(http_rule, min_size=1, max_size=3)}, {}))
many_rules_route = _route("HTTPRoute", GW, st.fixed_dictionaries({  # the most the schema allows
    **route_common, "rules": st.lists(http_match, min_size=16, max_size=16).map(
        lambda ms: [{"matches": [m], "backendRefs": [{"name": "svc0", "port": 80}]}
                    for m in ms])}))
grpc_route = _route("GRPCRoute", GW, _opt(route_common,
                                          {"rules": st.lists(grpc_rule, max_size=3)}))
tls_route = _route("TLSRoute", "gateway.networking.k8s.io/v1alpha2", st.fixed_dictionaries({
    **route_common, "rules": st.lists(st.fixed_dictionaries(
        {"backendRefs": st.lists(backend_ref, min_size=1, max_size=3)}), min_size=1, max_size=1)}))
l4_spec = st.fixed_dictionaries({  # TCPRoute and UDPRoute: no hostnames, one rule
    "parentRefs": route_common["parentRefs"], "rules": st.lists(st.fixed_dictionaries(
        {"backendRefs": st.lists(backend_ref, min_size=1, max_size=3)}), min_size=1, max_size=1)})
tcp_route = _route("TCPRoute", "gateway.networking.k8s.io/v1alpha2", l4_spec)
udp_route = _route("UDPRoute", GW, l4_spec)

certificate_ref = _opt({"name": st.sampled_from((*SECRETS, "missing"))},
                       {"namespace": namespace_ref, "kind": st.sampled_from(("Secret", "Bogus"))})
allowed_routes = _opt({}, {
    "namespaces": st.one_of(
        st.fixed_dictionaries({"from": st.sampled_from(("All", "Same"))}),
        st.just({"from": "Selector", "selector": {"matchLabels": {"team": "x"}}})),
    "kinds": st.lists(_opt({"kind": st.sampled_from(("HTTPRoute", "GRPCRoute", "TLSRoute",
                                                     "TCPRoute", "UDPRoute", "Bogus"))}, {}),
                      max_size=2)})
listener = st.one_of(
    _opt({"protocol": st.just("HTTP"), "port": st.sampled_from((80, 8080))},
         {"hostname": hostname, "allowedRoutes": allowed_routes}),
    _opt({"protocol": st.just("HTTPS"), "port": st.sampled_from((443, 8443)),
          "tls": _opt({"certificateRefs": st.lists(certificate_ref, min_size=1, max_size=2)},
                      {"mode": st.just("Terminate"),
                       "options": st.dictionaries(st.just("example.com/x"), any_text)})},
         {"hostname": hostname, "allowedRoutes": allowed_routes}),
    _opt({"protocol": st.just("TLS"), "port": st.sampled_from((443, 8443)),
          "tls": st.one_of(st.just({"mode": "Passthrough"}), st.fixed_dictionaries({
              "mode": st.just("Terminate"),
              "certificateRefs": st.lists(certificate_ref, min_size=1, max_size=1)}))},
         {"hostname": hostname, "allowedRoutes": allowed_routes}),
    _opt({"protocol": st.sampled_from(("TCP", "UDP", "example.com/custom")),
          "port": st.one_of(st.sampled_from((80, 443, 8080)), st.integers(1, 65535))},
         {"allowedRoutes": allowed_routes}),
)
ca_ref = _opt({"name": st.sampled_from((CA_CONFIG_MAP, "missing")), "group": st.just(""),
               "kind": st.sampled_from(("ConfigMap", "Secret"))}, {"namespace": namespace_ref})
frontend = st.fixed_dictionaries({"frontend": _opt({}, {
    "default": _opt({}, {"validation": _opt(
        {"caCertificateRefs": st.lists(ca_ref, min_size=1, max_size=2)},
        {"mode": st.sampled_from(("AllowValidOnly", "AllowInsecureFallback"))})}),
    "perPort": st.lists(_opt({"port": st.sampled_from((443, 8443))}, {"tls": _opt({}, {
        "validation": _opt({"caCertificateRefs": st.lists(ca_ref, min_size=1, max_size=1)}, {
            "mode": st.sampled_from(("AllowValidOnly", "AllowInsecureFallback"))})})}),
        max_size=2)})})


def _named_listeners(prefix: str) -> Any:
    return lambda listeners: [{"name": f"{prefix}{i}", **li} for i, li in enumerate(listeners)]


gateway = st.tuples(st.sampled_from(("a", "a", "b")), st.sampled_from(("gw", "gw2")), _opt(
    {"gatewayClassName": st.just("gc"),
     "listeners": st.lists(listener, min_size=1, max_size=4).map(_named_listeners("l"))},
    {"tls": frontend, "allowedListeners": st.sampled_from(("All", "Same", "None")).map(
        lambda f: {"namespaces": {"from": f}})})).map(
    lambda t: {"apiVersion": GW, "kind": "Gateway",
               "metadata": {"namespace": t[0], "name": t[1]}, "spec": t[2]})
listener_set = st.tuples(namespace_ref, st.lists(listener, min_size=1, max_size=2).map(
    _named_listeners("s"))).map(
    lambda t: {"apiVersion": GW, "kind": "ListenerSet",
               "metadata": {"namespace": t[0], "name": "ls"},
               "spec": {"parentRef": {"name": "gw", "namespace": "a"}, "listeners": t[1]}})


def _service(ns: str, name: str, ports: list[tuple[int, str | None]]) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name},
            "spec": {"ports": [{"name": f"p{p}", "port": p, "targetPort": 9000,
                                **({"appProtocol": app} if app else {})} for p, app in ports]}}


service = st.builds(_service, namespace_ref, st.sampled_from(SERVICES), st.lists(st.tuples(
    st.sampled_from((80, 81)), st.sampled_from((None, "kubernetes.io/h2c", "http", "odd"))),
    min_size=1, max_size=2, unique_by=lambda p: p[0]))
address = st.one_of(st.ip_addresses(v=4).map(str), st.sampled_from(
    ("10.0.0.1", "10.0.0.2", "0.0.0.0", "255.255.255.255", "host.example", "10.0.0.300", "")))
endpoint_slice = st.tuples(namespace_ref, st.sampled_from(SERVICES), st.sampled_from(
    ("IPv4", "IPv6", "FQDN")), st.lists(st.tuples(st.lists(st.one_of(
        address, st.ip_addresses(v=6).map(str)), min_size=1, max_size=2), st.booleans()),
        max_size=3), st.sampled_from((0, 1, 9000, 65535))).map(
    lambda t: {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"namespace": t[0], "name": f"{t[1]}-{t[2].lower()}",
                            "labels": {"kubernetes.io/service-name": t[1]}},
               "addressType": t[2],
               "ports": [{"name": p, "port": t[4]} for p in ("p80", "p81")],
               "endpoints": [{"addresses": a, "conditions": {"ready": r}} for a, r in t[3]]})
reference_grant = st.lists(st.sampled_from(("HTTPRoute", "GRPCRoute", "TLSRoute", "Gateway")),
                           min_size=1, max_size=4, unique=True).map(
    lambda kinds: {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                   "metadata": {"namespace": "b", "name": "grant"},
                   "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": k,
                                      "namespace": "a"} for k in kinds],
                            "to": [{"group": "", "kind": "Service"},
                                   {"group": "", "kind": "Secret"},
                                   {"group": "", "kind": "ConfigMap"}]}})
trust = st.one_of(
    st.fixed_dictionaries({"caCertificateRefs": st.lists(ca_ref.map(
        lambda r: {k: v for k, v in r.items() if k != "namespace"}), min_size=1, max_size=2)}),
    st.just({"wellKnownCACertificates": "System"}))
backend_tls_policy = st.tuples(namespace_ref, trust, _opt(
    {"hostname": precise_hostname},
    {"subjectAltNames": st.lists(st.one_of(
         st.fixed_dictionaries({"type": st.just("Hostname"), "hostname": hostname}),
         st.fixed_dictionaries({"type": st.just("URI"), "uri": st.sampled_from(
             ("spiffe://a.test/x", "https://a.test/p?q#f"))})), max_size=2)})).map(
    lambda t: {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy",
               "metadata": {"namespace": t[0], "name": "btls"},
               "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "svc0"}],
                        "validation": {**t[1], **t[2]}}})


WEB = {"name": "web", "port": 8000, "protocol": "HTTP",
       "allowedRoutes": {"namespaces": {"from": "All"}}}


def _first_is_gw(gateways: list[Obj]) -> list[Obj]:
    """The Gateway most routes name is there: the first one is "a/gw", and it has a listener
    that takes every HTTPRoute and GRPCRoute; it takes ListenerSets unless it says otherwise."""
    spec = gateways[0]["spec"]
    first = {**gateways[0], "metadata": {"namespace": "a", "name": "gw"},
             "spec": {"allowedListeners": {"namespaces": {"from": "All"}}, **spec,
                      "listeners": [*spec["listeners"], WEB]}}
    return [first, *gateways[1:]]


def _world(parts: list[list[Obj]]) -> list[Obj]:
    fixed: list[Obj] = [
        {"apiVersion": GW, "kind": "GatewayClass", "metadata": {"name": "gc"},
         "spec": {"controllerName": CONTROLLER}},
        *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
          for ns in NAMESPACES),
        *material()]
    return fixed + [obj for part in parts for obj in part]


world = st.tuples(
    st.lists(gateway, min_size=1, max_size=2).map(_first_is_gw),
    st.lists(service, max_size=3), st.lists(endpoint_slice, max_size=3),
    st.lists(st.one_of(http_route, http_route, grpc_route, tls_route, many_rules_route,
                       tcp_route, udp_route),
             max_size=3),
    st.lists(reference_grant, max_size=1), st.lists(backend_tls_policy, max_size=1),
    st.lists(listener_set, max_size=1),
).map(lambda parts: _world(list(parts)))

