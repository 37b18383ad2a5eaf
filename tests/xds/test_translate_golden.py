"""Golden tests of IR -> Envoy resources: a reviewer reads a change of translation as a YAML diff.

Each case is an IR built by hand; `testdata/<case>.yaml` holds the resources per type as dicts.
Run with `--update-golden` to rewrite them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.json_format import MessageToJson

from propylon.ir import limits as lim
from propylon.ir import model as ir
from propylon.ir import telemetry as tel
from propylon.ir.patches import JsonPatch
from propylon.xds.server.cache import versioned
from propylon.xds.translate import ENDPOINT, translate

TESTDATA = Path(__file__).parent / "testdata"
KEY = ir.GatewayKey("default", "gw")


def _backend(name: str, port: int, protocol: str = "http1") -> ir.Cluster:
    return ir.Cluster(name=f"default/{name}/80", endpoints=(ir.Endpoint("127.0.0.1", port),),
                      protocol=protocol)  # type: ignore[arg-type]


def _example_com_on_80(routes: tuple[ir.Route, ...], clusters: tuple[ir.Cluster, ...],
                       **listener: Any) -> ir.GatewayIR:
    """One HTTP listener on port 80 with one virtual host, example.com, serving `routes`."""
    return ir.GatewayIR(
        key=KEY,
        listeners=(ir.Listener("http-80", "0.0.0.0", 80, 8080, "HTTP", route_config="http-80",
                               **listener),),
        route_configs=(ir.RouteConfig("http-80", (
            ir.VirtualHost("example.com", ("example.com",), routes),)),),
        clusters=clusters,
        secrets=(),
    )


def http_basic() -> ir.GatewayIR:
    routes = (
        ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("Exact", "/exact")),
                 backends=(ir.WeightedBackend("default/a/80", 1),)),
        ir.Route("default/r/1/0", ir.RouteMatch(
            ir.PathMatch("PathPrefix", "/v2/"),
            headers=(ir.StringMatch("X-Version", "2"),
                     ir.StringMatch("X-Re", "^a.*$", "RegularExpression")),
            query_params=(ir.StringMatch("q", "1"),), method="GET"),
            backends=(ir.WeightedBackend("default/a/80", 3), ir.WeightedBackend("default/b/80", 1),
                      ir.WeightedBackend(None, 1)),
            request_headers=ir.HeaderModifier(set=(ir.HeaderValue("x-set", "1"),),
                                              add=(ir.HeaderValue("x-add", "2"),),
                                              remove=("x-remove",)),
            rewrite=ir.Rewrite(hostname="internal", path_prefix="/"),
            mirrors=(ir.Mirror("default/b/80", 50.0),),
            timeout_ms=1500, backend_timeout_ms=500, retry=ir.Retry(2, (503,), 100)),
        ir.Route("default/r/2/0", ir.RouteMatch(ir.PathMatch("RegularExpression", "/re/[0-9]+")),
                 redirect=ir.Redirect(scheme="https", port=443, status_code=301)),
        ir.Route("default/r/3/0", ir.RouteMatch(), backends=(ir.WeightedBackend(None, 1),)),
    )
    return ir.GatewayIR(
        key=KEY,
        listeners=(ir.Listener("http-80", "0.0.0.0", 80, 8080, "HTTP", route_config="http-80"),),
        route_configs=(ir.RouteConfig("http-80", (
            ir.VirtualHost("example.com", ("example.com",), routes),
            ir.VirtualHost("wild.example.com", ("*.example.com",), (
                ir.Route("default/w/0/0", ir.RouteMatch(),
                         direct_response=ir.DirectResponse(404, "nope")),)),
        )),),
        clusters=(_backend("b", 9002, "h2c"), _backend("a", 9001)),
        secrets=(),
    )


def https_sni() -> ir.GatewayIR:
    return ir.GatewayIR(
        key=KEY,
        listeners=(
            ir.Listener("https-443", "0.0.0.0", 443, 8443, "HTTPS", tls_chains=(
                ir.TLSFilterChain("https-443/a", ("a.example.com",), ("default/a-cert",), "https-a"),
                ir.TLSFilterChain("https-443/any", (), ("default/b-cert",), "https-any"),
            )),
            ir.Listener("https-8444", "0.0.0.0", 8444, 8444, "HTTPS"),
        ),
        route_configs=(
            ir.RouteConfig("https-a", (ir.VirtualHost("a", ("a.example.com",), (
                ir.Route("r", ir.RouteMatch(), backends=(ir.WeightedBackend("default/a/80", 1),)),
            )),)),
            ir.RouteConfig("https-any", ()),
        ),
        clusters=(_backend("a", 9001),),
        secrets=(ir.Secret("default/b-cert", "CHAIN-B", "KEY-B"),
                 ir.Secret("default/a-cert", "CHAIN-A", "KEY-A")),
    )


def http_extended() -> ir.GatewayIR:
    """Extended HTTPRoute features: backendRef header modifiers, retries, redirects, CORS."""
    only_v1 = ir.HeaderModifier(set=(ir.HeaderValue("backend", "a"),), remove=("x-drop",))
    routes = (
        ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/headers")), backends=(
            ir.WeightedBackend("default/a/80", 1, request_headers=only_v1,
                               response_headers=ir.HeaderModifier(add=(ir.HeaderValue("x", "1"),))),
        )),
        ir.Route("default/r/1/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/split")), backends=(
            ir.WeightedBackend("default/a/80", 1, request_headers=only_v1),
            ir.WeightedBackend("default/a/80", 1),
        )),
        ir.Route("default/r/2/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/retry")),
                 backends=(ir.WeightedBackend("default/a/80", 1),),
                 timeout_ms=400, backend_timeout_ms=200, retry=ir.Retry(5, (500, 503))),
        ir.Route("default/r/3/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/reset")),
                 backends=(ir.WeightedBackend("default/a/80", 1),),
                 backend_timeout_ms=200, retry=ir.Retry(1, (), 25)),
        ir.Route("default/r/4/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/to-listener-port")),
                 redirect=ir.Redirect(hostname="example.org", status_code=307,
                                      listener_scheme="http", listener_port=8080)),
        ir.Route("default/r/5/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/to-https")),
                 redirect=ir.Redirect(scheme="https", status_code=308,
                                      listener_scheme="http", listener_port=8080)),
        ir.Route("default/r/6/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/see-other")),
                 redirect=ir.Redirect(status_code=303, listener_scheme="http", listener_port=80)),
        ir.Route("default/r/7/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/cors")),
                 backends=(ir.WeightedBackend("default/a/80", 1),),
                 cors=ir.Cors(("*", "https://*.bar.com", "http://exact.example.com:8080"),
                              ("*",), ("x-a", "x-b"), ("x-c",), 3600, True)),
    )
    return _example_com_on_80(routes, (_backend("a", 9001),))


def tls_mixed() -> ir.GatewayIR:
    """One port: an HTTPS listener with client validation (insecure fallback), one with a
    ClientTrafficPolicy's (certificate optional; SPKI, certificate hash and SAN checks), a
    TLSRoute passed through with a weighted split, one terminated, and one whose backend is
    unresolved."""
    https = ir.TLSFilterChain("https", ("web.example.com",), ("default/web",), "rc-web",
                              ir.ClientValidation("CA PEM", optional=True))
    mtls = ir.TLSFilterChain("mtls", ("api.example.com",), ("default/web",), "rc-web",
                             ir.ClientValidation("CA PEM", spki_hashes=("SPKI=",),
                                                 certificate_hashes=("ab" * 32,),
                                                 subject_alt_names=(
                                                     ("DNS", "Suffix", ".example.com"),
                                                     ("URI", "Exact", "spiffe://a/b")),
                                                 certificate_optional=True))
    tcp = (
        ir.TCPFilterChain("pass", ("*.example.com",), (ir.WeightedBackend("default/a/80", 3),
                                                       ir.WeightedBackend("default/b/80", 1))),
        ir.TCPFilterChain("term", ("tls.example.com",), (ir.WeightedBackend("default/a/80", 1),),
                          ("default/tls",)),
        ir.TCPFilterChain("broken", ("broken.example.com",), (ir.WeightedBackend(None, 1),)),
    )
    return ir.GatewayIR(
        key=KEY,
        listeners=(ir.Listener("tls-443", "0.0.0.0", 443, 443, "HTTPS", tls_chains=(https, mtls),
                               tcp_chains=tcp),),
        route_configs=(ir.RouteConfig("rc-web", ()),),
        clusters=(_backend("a", 9001), _backend("b", 9002)),
        secrets=(ir.Secret("default/web", "CERT", "KEY"), ir.Secret("default/tls", "CERT", "KEY")),
    )


def tcp_udp() -> ir.GatewayIR:
    """Port 5300 over TCP (a weighted split, a connection limit) and over UDP; a UDP port whose
    route's backend is unresolved, and a TCP port without a route (no Envoy listener)."""
    return ir.GatewayIR(
        key=KEY,
        listeners=(
            ir.Listener("default/gw/5300", "0.0.0.0", 5300, 5300, "TCP", tcp_chains=(
                ir.TCPFilterChain("default/gw/tcp/default/r", (), (
                    ir.WeightedBackend("default/a/80", 3), ir.WeightedBackend("default/b/80", 1))),
            ), connection_limit=lim.ConnectionLimit(100)),
            ir.Listener("default/gw/5300/udp", "0.0.0.0", 5300, 5300, "UDP", tcp_chains=(
                ir.TCPFilterChain("default/gw/udp/default/dns", (),
                                  (ir.WeightedBackend("default/a/80", 1),)),)),
            ir.Listener("default/gw/53/udp", "0.0.0.0", 53, 10053, "UDP", tcp_chains=(
                ir.TCPFilterChain("default/gw/gone/default/gone", (),
                                  (ir.WeightedBackend(None, 1),)),)),
            ir.Listener("default/gw/7000", "0.0.0.0", 7000, 7000, "TCP"),
        ),
        route_configs=(),
        clusters=(_backend("a", 9001), _backend("b", 9002)),
        secrets=(),
    )


def limits() -> ir.GatewayIR:
    """Policy limits: a connection limit and the local rate limit filter on the listener, a
    route's rate limits (every condition kind; shadow mode), circuit breakers with a retry
    budget and requests per connection, active HTTP checks on another port with passive ones
    and a panic threshold, TCP and gRPC checks."""
    bucket = lim.TokenBucket(3, 60)
    rule = lim.RateLimitRule(
        (lim.RateLimitMatch("header", "x-user", "Exact", "john"),
         lim.RateLimitMatch("header", "x-org", "RegularExpression", "^t.*", invert=True),
         lim.RateLimitMatch("header", "x-session", "Distinct", ""),
         lim.RateLimitMatch("query", "user", "Exact", "alice"),
         lim.RateLimitMatch("query", "page", "Distinct", ""),
         lim.RateLimitMatch("path", ":path", "PathPrefix", "/api")),
        (lim.RateLimitMatch("method", ":method", "Exact", "GET"),
         lim.RateLimitMatch("method", ":method", "Exact", "POST")),
        "10.0.0.0/8", True, bucket)
    routes = (
        ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/limited")),
                 backends=(ir.WeightedBackend("default/a/80/cb", 1),),
                 rate_limit=lim.LocalRateLimit(lim.TokenBucket(10, 3600), (rule,))),
        ir.Route("default/r/1/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/shadow")),
                 backends=(ir.WeightedBackend("default/a/80/http", 1),),
                 rate_limit=lim.LocalRateLimit(lim.TokenBucket(4294967295, 1), (
                     lim.RateLimitRule((), (), "2001:db8::/32", False, bucket),),
                     shadow=True, headers=False)),
    )
    cb = lim.CircuitBreaker(0, 1, 2, 3, 4, 25.0, 2)
    http = lim.HealthCheck(
        lim.ActiveHealthCheck("HTTP", 3000, 5000, 2, 1, "/status/200", "health.example", "HEAD",
                              (200, 204), lim.Payload(text="ok"), port=3001),
        lim.PassiveHealthCheck(1000, 10000, 2, 1, 5, 100, True), 0)
    tcp = lim.HealthCheck(lim.ActiveHealthCheck(
        "TCP", send=lim.Payload(text="ping"), receive=lim.Payload(binary_hex="706f6e67")))
    grpc = lim.HealthCheck(lim.ActiveHealthCheck("GRPC", grpc_service="echo.Health"))

    def copy(suffix: str, connection: ir.Connection, protocol: str = "http1") -> ir.Cluster:
        return ir.Cluster(f"default/a/80/{suffix}", (ir.Endpoint("127.0.0.1", 9001),),
                          protocol, connection=connection)  # type: ignore[arg-type]

    clusters = (copy("cb", ir.Connection(circuit_breaker=cb)),
                copy("http", ir.Connection(health_check=http)),
                copy("tcp", ir.Connection(health_check=tcp)),
                copy("grpc", ir.Connection(health_check=grpc), "h2c"))
    return _example_com_on_80(routes, clusters, connection_limit=lim.ConnectionLimit(3, 1000, 1, 65536))


def load_balancing() -> ir.GatewayIR:
    """Routes hashing on each source (a Maglev cluster), clusters balanced by least request
    with a slow start, at random unless a header names the endpoint and by the endpoints' load
    reports (in-band, and out-of-band on another port), and sessions kept in a cookie (over a cluster of weighted
    endpoints) and in a header."""
    maglev = replace(_backend("a", 9001), name="default/a/80/hash",
                     load_balancer=ir.LoadBalancer("Maglev", table_size=257))
    least = replace(_backend("b", 9002), load_balancer=ir.LoadBalancer("LeastRequest",
                                                                        slow_start_ms=1500))
    rand = replace(_backend("a", 9001), load_balancer=ir.LoadBalancer(
        "Random", override_headers=("x-custom-host",)))
    used = replace(_backend("b", 9002), name="default/b/80/used", load_balancer=ir.LoadBalancer(
        "Utilization", slow_start_ms=500, utilization=ir.Utilization(1, 3000, 100, 120, ("cpu",))))
    oob = replace(_backend("a", 9001), name="default/a/80/oob", load_balancer=ir.LoadBalancer(
        "Utilization", utilization=ir.Utilization(out_of_band=True, oob_period_ms=1000,
                                                  oob_port=3001)))
    shared = ir.Cluster("httproute/default/r/rule/2", (ir.Endpoint("127.0.0.1", 9001, 250_000),
                                                       ir.Endpoint("127.0.0.2", 9001, 750_000)))
    hashes = (ir.HashPolicy("SourceIP"), ir.HashPolicy("Header", "Lb-Test-Header"),
              ir.HashPolicy("QueryParam", "user"),
              ir.HashPolicy("Cookie", "Lb-Test-Cookie", 60_000, (("SameSite", "Strict"),)))
    routes = (
        ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/hash")),
                 backends=(ir.WeightedBackend(maglev.name, 1),), hash_policies=hashes),
        ir.Route("default/r/1/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/least")),
                 backends=(ir.WeightedBackend(least.name, 1),)),
        ir.Route("default/r/2/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/cookie-session")),
                 backends=(ir.WeightedBackend(shared.name, 1),),
                 session=ir.Session("Cookie", "Session-A", 10_000, "/cookie-session")),
        ir.Route("default/r/3/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/header-session")),
                 backends=(ir.WeightedBackend(least.name, 1),),
                 session=ir.Session("Header", "Session-A")),
        ir.Route("default/r/4/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/used")),
                 backends=(ir.WeightedBackend(used.name, 1),)),
        ir.Route("default/r/6/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/oob")),
                 backends=(ir.WeightedBackend(oob.name, 1),)),
        ir.Route("default/r/5/0", ir.RouteMatch(), backends=(ir.WeightedBackend(rand.name, 1),)),
    )
    return _example_com_on_80(routes, (maglev, least, rand, shared, used, oob))


def client_settings() -> ir.GatewayIR:
    """A ClientTrafficPolicy's client address and header settings (X-Forwarded-Client-Cert
    set with the client certificate's subject, PEM and URI SANs) on a listener whose routes
    compress (BackendTrafficPolicy) or answer with an HTTPRouteFilter's formatted body."""
    routes = (
        ir.Route("zipped", ir.RouteMatch(ir.PathMatch("PathPrefix", "/z")),
                 backends=(ir.WeightedBackend("default/a/80", 1),),
                 compression=(ir.Compression("Brotli", 50), ir.Compression("Gzip"))),
        ir.Route("answer", ir.RouteMatch(),
                 direct_response=ir.DirectResponse(404, content_type="text/plain",
                                                   body_format="%REQ(:METHOD)% not here"),
                 response_headers=ir.HeaderModifier(set=(ir.HeaderValue("x-set", "1"),))),
    )
    edits = ir.HeaderMutation(add=(ir.HeaderValue("x-early", "e"),), remove=("x-drop",),
                              remove_on_match=(("Prefix", "x-internal-"),))
    client = ir.ClientSettings(trusted_cidrs=("10.0.0.0/8",), early_request_headers=edits,
                               late_response_headers=edits, preserve_request_id=True,
                               underscores="DropHeader", xfcc_mode="SanitizeSet",
                               xfcc_details=("Subject", "Cert", "URI"))
    return ir.GatewayIR(
        KEY,
        (ir.Listener("default/gw/80", "127.0.0.1", 80, 10080, "HTTP", "default/gw/80",
                     client=client),),
        (ir.RouteConfig("default/gw/80", (ir.VirtualHost("all", ("*",), routes),)),),
        (_backend("a", 9001),), ())


def http_auth() -> ir.GatewayIR:
    """SecurityPolicy jwt and authorization: a route needing a token of a local or a remote
    JWKS (optional; fetched again 3s after a failure) or of an identity provider's https://
    JWKS (a DNS cluster, over TLS), a route authorized by rules (first
    match wins; one on the token's scopes and claims), a route with neither;
    the HTTP listener carries the JWT and RBAC filters, the HTTPS one (no such route) not."""
    local = ir.JwtProvider("default/p/local", '{"keys": []}', "https://issuer.example",
                           ("api",), (("name", "x-name"),), True, (("x-token", "Token "),),
                           ("session",), ("token",))
    remote = ir.JwtProvider("default/p/remote", "", remote_uri="http://keys.auth/jwks.json",
                            remote_cluster="default/a/80", cache_duration_ms=600_000,
                            failed_refetch_ms=3000)
    idp = ir.JwtProvider("default/p/idp", "", remote_uri="https://idp.example.com/jwks.json",
                         remote_cluster="dns:https://idp.example.com:443")
    jwt = ir.Jwt((local, remote, idp), optional=True)
    authz = ir.Authorization((
        ir.AuthzRule(False, client_cidrs=("192.168.1.0/24",)),
        ir.AuthzRule(True, client_cidrs=("192.168.1.0/24", "10.0.0.0/8"),
                     headers=(("x-user", ("a", "b")), ("x-team", ("t",))), methods=("GET",)),
        ir.AuthzRule(True, jwt=ir.JwtPrincipal("default/p/local", (
            ir.JwtClaimMatch(("user", "team"), ("ops", "sre")),
            ir.JwtClaimMatch(("roles",), ("admin",), string_array=True)), ("read", "write"))),
    ), default_allow=True)
    routes = (
        ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/jwt")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), jwt=jwt),
        ir.Route("default/r/1/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/authz")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), authorization=authz),
        ir.Route("default/r/2/0", ir.RouteMatch(),
                 backends=(ir.WeightedBackend("default/a/80", 1),)),
    )
    return ir.GatewayIR(
        key=KEY,
        listeners=(ir.Listener("http-80", "0.0.0.0", 80, 8080, "HTTP", route_config="http-80"),
                   ir.Listener("https-443", "0.0.0.0", 443, 8443, "HTTPS", tls_chains=(
                       ir.TLSFilterChain("https-443/a", (), ("default/a-cert",), "https-a"),))),
        route_configs=(ir.RouteConfig("http-80", (
            ir.VirtualHost("example.com", ("example.com",), routes),)),
            ir.RouteConfig("https-a", ())),
        clusters=(_backend("a", 9001), ir.Cluster(
            "dns:https://idp.example.com:443", (ir.Endpoint("idp.example.com", 443),),
            tls=ir.UpstreamTLS("idp.example.com", None,
                               (ir.SubjectAltName("DNS", "idp.example.com"),)),
            resolver="dns")),
        secrets=(ir.Secret("default/a-cert", "CHAIN-A", "KEY-A"),),
    )


def http_credentials() -> ir.GatewayIR:
    """Basic auth with and without a forwarded user name (two basic_auth filters), users hashed
    with bcrypt (checked by the htpasswd service's ext_authz), API key auth from a header then
    a cookie, and a route with neither."""
    users = "user1:{SHA}tESsBmE/yNY3lb6a0L6vVQEZNqw=\n"
    bcrypt_users = "foo:$2y$04$wHxWVFcqv1CXVBKNIqG5VO4N8ZuVD1VRZ7zGJ8MP7SQ3wBa1AdlCW\n"
    backend = (ir.WeightedBackend("default/a/80", 1),)
    routes = (
        ir.Route("default/basic/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/basic")),
                 backends=backend, basic_auth=ir.BasicAuth(users)),
        ir.Route("default/named/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/named")),
                 backends=backend, basic_auth=ir.BasicAuth(users, "X-User")),
        ir.Route("default/bcrypt/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/bcrypt")),
                 backends=backend, basic_auth=ir.BasicAuth(bcrypt_users, "X-User")),
        ir.Route("default/keys/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/keys")),
                 backends=backend, api_key_auth=ir.ApiKeyAuth(
                     (("client1", "key1"),), (("header", "X-API-KEY"), ("cookie", "k")),
                     "X-Client-ID", True)),
        ir.Route("default/open/0/0", ir.RouteMatch(), backends=backend),
    )
    return _example_com_on_80(routes, (_backend("a", 9001),))


def ext_auth() -> ir.GatewayIR:
    """Ext auth: an HTTP service (path prefix, headers both ways, failOpen, body, recompute,
    timeout) and a gRPC one on two routes of one HTTP port, each filter disabled in the
    connection manager and enabled on its route only; a third route is not authorised."""
    http = ir.ExtAuth("securitypolicy/default/web", "extauth/default/auth/8080",
                      "auth.default:8080", path_prefix="/auth",
                      headers_to_backend=("x-current-user",), headers_to_ext_auth=("x-tenant",),
                      fail_open=True, body_max_bytes=4096, recompute_route=True,
                      timeout_ms=2000)
    grpc = ir.ExtAuth("securitypolicy/default/api", "extauth/default/grpc-auth/9002/grpc",
                      "grpc-auth.default:9002", grpc=True, status_on_error=503,
                      context_extensions=(("tier", "gold"),))
    routes = (
        ir.Route("web", ir.RouteMatch(ir.PathMatch("PathPrefix", "/web")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), ext_auth=http),
        ir.Route("api", ir.RouteMatch(ir.PathMatch("PathPrefix", "/api")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), ext_auth=grpc),
        ir.Route("public", ir.RouteMatch(), backends=(ir.WeightedBackend("default/a/80", 1),)),
    )
    return ir.GatewayIR(
        key=KEY,
        listeners=(ir.Listener("http-80", "0.0.0.0", 80, 8080, "HTTP", route_config="http-80"),),
        route_configs=(ir.RouteConfig("http-80", (ir.VirtualHost("any", ("*",), routes),)),),
        clusters=(_backend("a", 9001),
                  ir.Cluster("extauth/default/auth/8080", (ir.Endpoint("127.0.0.1", 9100),)),
                  ir.Cluster("extauth/default/grpc-auth/9002/grpc",
                             (ir.Endpoint("127.0.0.1", 9101),), "h2c")),
        secrets=(),
    )


def lua() -> ir.GatewayIR:
    """Lua: one route runs two scripts in order, another one, a third none; the connection
    manager has one disabled, empty filter per script position, after the buffer, and each
    route turns on the positions it uses with its script."""
    gateway = ir.Lua("envoyextensionpolicy/default/gw/lua/0",
                     'function envoy_on_response(h) h:headers():add("x-gw", "1") end')
    path = ir.Lua("envoyextensionpolicy/default/api/lua/0",
                  'function envoy_on_request(h) h:headers():add("x-path", "1") end')
    routes = (
        ir.Route("api", ir.RouteMatch(ir.PathMatch("PathPrefix", "/api")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), lua=(path, gateway),
                 request_body_limit=1024),
        ir.Route("web", ir.RouteMatch(ir.PathMatch("PathPrefix", "/web")),
                 backends=(ir.WeightedBackend("default/a/80", 1),), lua=(gateway,)),
        ir.Route("public", ir.RouteMatch(), backends=(ir.WeightedBackend("default/a/80", 1),)),
    )
    return _example_com_on_80(routes, (_backend("a", 9001),))


def access_logs() -> ir.GatewayIR:
    """Access logs of every sink and moment: the default line to stdout (requests, and the
    connections that found no route), a JSON file log of upstream requests with a CEL match,
    a listener log, OpenTelemetry (text body, resources, METADATA formatter) and ALS (HTTP
    with extra headers, TCP) to gRPC collectors; a health check logging its events."""
    file = tel.AccessLogSink("File", path=tel.STDOUT)
    otel = tel.AccessLogSink("OpenTelemetry", cluster="accesslog/monitoring/otel/4317",
                             authority="otel.monitoring:4317",
                             resources=(("k8s.cluster.name", "propylon"),))
    als = tel.AccessLogSink("ALS-HTTP", cluster="accesslog/monitoring/otel/9000",
                            authority="otel.monitoring:9000", request_headers=("x-tenant",))
    logs = (
        tel.AccessLog(file, tel.DEFAULT_TEXT),
        tel.AccessLog(tel.AccessLogSink("File", path="/var/log/upstream.log"),
                      json=(("method", "%REQ(:METHOD)%"), ("host", "%UPSTREAM_HOST%")),
                      matches=("'x-log' in request.headers",), when="Upstream"),
        tel.AccessLog(file, "LISTENER %RESPONSE_CODE%\n", when="Listener"),
        tel.AccessLog(otel, "%METADATA(ROUTE:envoy-gateway:resources)% %RESPONSE_CODE%",
                      matches=("'x-log' in request.headers", "request.method == 'GET'"),
                      when="Route"),
        tel.AccessLog(als),
        tel.AccessLog(replace(als, kind="ALS-TCP", request_headers=(), log_name="tcp")),
    )
    health = lim.HealthCheck(lim.ActiveHealthCheck("HTTP", path="/healthz"),
                             event_log_paths=(tel.STDOUT,))
    checked = ir.Cluster("default/a/80", (ir.Endpoint("127.0.0.1", 9001),),
                         connection=ir.Connection(health_check=health))
    collectors = tuple(ir.Cluster(name, (ir.Endpoint("127.0.0.1", port),), "h2c")
                       for name, port in (("accesslog/monitoring/otel/4317", 4317),
                                          ("accesslog/monitoring/otel/9000", 9000)))
    return _example_com_on_80(
        (ir.Route("default/r/0/0", ir.RouteMatch(),
                  backends=(ir.WeightedBackend("default/a/80", 1),)),),
        (checked, *collectors), access_logs=logs)


def socket_and_dns() -> ir.GatewayIR:
    """Envoy Gateway Backends' clusters: a Unix socket endpoint (EDS, a pipe address) and an
    FQDN one reached over TLS (STRICT_DNS)."""
    routes = (ir.Route("default/r/0/0", ir.RouteMatch(ir.PathMatch("PathPrefix", "/sock")),
                       backends=(ir.WeightedBackend("backend/default/sock", 1),)),
              ir.Route("default/r/1/0", ir.RouteMatch(),
                       backends=(ir.WeightedBackend("backend/default/dns", 1),)))
    return _example_com_on_80(routes, (
        ir.Cluster("backend/default/sock", (ir.Endpoint("/run/app.sock", 0),)),
        ir.Cluster("backend/default/dns", (ir.Endpoint("api.example.net", 443),),
                   tls=ir.UpstreamTLS("api.example.net", None,
                                      (ir.SubjectAltName("DNS", "api.example.net"),)),
                   resolver="dns")))


def patches() -> ir.GatewayIR:
    """http_basic with EnvoyPatchPolicies' patches: a cluster, a virtual host and a listener
    changed by "default/ok"; "default/broken" (its second patch names no resource) changes
    nothing."""
    def patch(policy: str, index: int, kind: str, name: str, op: str, path: str,
              value: Any = None) -> JsonPatch:
        return JsonPatch(policy, index, f"type.googleapis.com/envoy.config.{kind}", name, op,
                         path, None, None if value is None else json.dumps(value))
    return replace(http_basic(), patches=(
        patch("default/ok", 0, "cluster.v3.Cluster", "default/a/80", "add", "/common_lb_config",
              {"healthy_panic_threshold": {"value": 0}}),
        patch("default/ok", 1, "route.v3.VirtualHost", "http-80/example.com", "add",
              "/request_headers_to_add", [{"header": {"key": "x-patched", "value": "1"}}]),
        patch("default/ok", 2, "listener.v3.Listener", "http-80", "replace",
              "/per_connection_buffer_limit_bytes", 1024),
        patch("default/broken", 0, "cluster.v3.Cluster", "default/b/80", "remove",
              "/connect_timeout"),
        patch("default/broken", 1, "cluster.v3.Cluster", "default/c/80", "remove", "/name")))


CASES = {"lua": lua, "access_logs": access_logs, "client_settings": client_settings, "http_basic": http_basic,
         "http_extended": http_extended, "https_sni": https_sni, "tls_mixed": tls_mixed,
         "http_auth": http_auth, "http_credentials": http_credentials, "ext_auth": ext_auth,
         "load_balancing": load_balancing, "limits": limits, "tcp_udp": tcp_udp,
         "patches": patches, "socket_and_dns": socket_and_dns}


def _as_dicts(gateway: ir.GatewayIR) -> dict[str, Any]:
    resources = translate(gateway)
    return {
        type_url.rsplit(".", 1)[-1]: [json.loads(MessageToJson(m, preserving_proto_field_name=True))
                                      for m in by_name.values()]
        for type_url, by_name in resources.by_type.items()
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, update_golden: bool) -> None:
    path = TESTDATA / f"{case}.yaml"
    got = _as_dicts(CASES[case]())
    if update_golden:
        TESTDATA.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(got, sort_keys=True))
    assert got == yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_translation_is_deterministic(case: str) -> None:
    shuffled = CASES[case]()
    reordered = ir.GatewayIR(key=shuffled.key, listeners=shuffled.listeners[::-1],
                             route_configs=shuffled.route_configs[::-1],
                             clusters=shuffled.clusters[::-1], secrets=shuffled.secrets[::-1],
                             patches=shuffled.patches)
    a, b = versioned(translate(shuffled)), versioned(translate(reordered))
    assert a.versions == b.versions
    assert {t: list(m) for t, m in a.resources.by_type.items()} \
        == {t: list(m) for t, m in b.resources.by_type.items()}


def test_endpoint_change_changes_only_that_eds_version() -> None:
    before = http_basic()
    moved = ir.GatewayIR(key=before.key, listeners=before.listeners,
                         route_configs=before.route_configs,
                         clusters=(_backend("b", 9002, "h2c"), _backend("a", 9999)),
                         secrets=before.secrets)
    old, new = versioned(translate(before)).versions, versioned(translate(moved)).versions
    changed = {(t, n) for t in old for n in old[t] if old[t][n] != new[t].get(n)}
    assert changed == {(ENDPOINT, "default/a/80")}
