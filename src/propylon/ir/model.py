"""The intermediate representation: what one Gateway's proxies must do, with no Envoy types.

`translate()` builds one `GatewayIR` per Gateway that has an address; `xds.translate` turns it
into Envoy resources. Every value is a frozen dataclass made of tuples, so two IRs compare equal
exactly when the proxies must behave the same, and a stage that receives an equal value does
nothing.

Shape, from the outside in:
- `Listener`: one socket (bind address and port) serving one or more Gateway listeners. An HTTP
  listener has one `route_config`; an HTTPS or TLS listener has one `TLSFilterChain` per SNI
  hostname group, each with its certificates and its own route config, and one
  `TCPFilterChain` per TLSRoute hostname group (TLS passed through or terminated, then TCP).
- `RouteConfig` -> `VirtualHost` (domains) -> `Route` (match, then either weighted backends or a
  direct response), routes already ordered by the Gateway API precedence rules.
- `Cluster`: one per Service port referenced, with its endpoints (sent apart, so an endpoint
  change reaches Envoy without resending routes), and `UpstreamTLS` when the proxy must speak
  TLS to it (SNI, the CAs and names that verify the backend, the client certificate to present).
- `Secret`: a certificate and key in PEM, named so that a rotation changes only the secret.

Names are deterministic and derived from the Kubernetes objects, never from list positions that
shift when an unrelated object changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from propylon.ir.limits import CircuitBreaker, ConnectionLimit, HealthCheck, LocalRateLimit
from propylon.ir.patches import JsonPatch
from propylon.ir.telemetry import AccessLog

PathMatchType = Literal["Exact", "PathPrefix", "RegularExpression"]
ClusterProtocol = Literal["http1", "h2c", "websocket"]
StringMatchType = Literal["Exact", "RegularExpression"]


@dataclass(frozen=True, order=True)
class GatewayKey:
    """A Gateway's identity; `str()` gives `namespace/name`, which is also the Envoy node id."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PathMatch:
    type: PathMatchType
    value: str


@dataclass(frozen=True)
class StringMatch:
    """A header or query-parameter match: `name` compared case-insensitively for headers."""

    name: str
    value: str
    type: StringMatchType = "Exact"


@dataclass(frozen=True)
class RouteMatch:
    path: PathMatch = PathMatch("PathPrefix", "/")
    headers: tuple[StringMatch, ...] = ()
    query_params: tuple[StringMatch, ...] = ()
    method: str | None = None


@dataclass(frozen=True)
class HeaderValue:
    name: str
    value: str


@dataclass(frozen=True)
class HeaderModifier:
    set: tuple[HeaderValue, ...] = ()
    add: tuple[HeaderValue, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightedBackend:
    """A share of traffic for one cluster; `cluster` is a `Cluster.name` of the same GatewayIR,
    or None for a backendRef that could not be resolved (its share of requests gets a 500).
    The header modifiers apply only to requests sent to this backend (backendRef filters)."""

    cluster: str | None
    weight: int
    request_headers: HeaderModifier | None = None
    response_headers: HeaderModifier | None = None


@dataclass(frozen=True)
class Redirect:
    scheme: str | None = None
    hostname: str | None = None
    port: int | None = None
    path_full: str | None = None
    path_prefix: str | None = None  # replace the matched prefix with this
    status_code: int = 302
    # The Gateway listener the route is served on: a redirect without port goes to the
    # listener port (no scheme) or the scheme's port, and a default port is left out.
    listener_scheme: Literal["http", "https"] | None = None
    listener_port: int | None = None


@dataclass(frozen=True)
class Rewrite:
    """How a request is rewritten before it is sent: the Host (a literal, a request header's
    value, the backend's address with `auto_host`, or a (pattern, substitution) of the path)
    and the path (full, prefix, or a (pattern, substitution) regex); `append_forwarded_host`
    keeps the original Host in X-Forwarded-Host."""

    hostname: str | None = None
    path_full: str | None = None
    path_prefix: str | None = None  # replace the matched prefix with this
    path_regex: tuple[str, str] | None = None
    host_header: str | None = None
    auto_host: bool | None = None
    host_path_regex: tuple[str, str] | None = None
    append_forwarded_host: bool | None = None


@dataclass(frozen=True)
class Mirror:
    cluster: str
    percent: float = 100.0


@dataclass(frozen=True)
class Retry:
    """Retries of a route. `on` lists Envoy's retry triggers (None: the Gateway API's,
    connection failures and resets, plus `codes`); `per_try_timeout_ms` bounds each try (None:
    the route's backend timeout, if any)."""

    attempts: int
    codes: tuple[int, ...] = ()
    backoff_ms: int | None = None
    on: tuple[str, ...] | None = None
    backoff_max_ms: int | None = None
    per_try_timeout_ms: int | None = None


@dataclass(frozen=True)
class Cors:
    """A CORS policy: the gateway answers preflights itself and adds the response headers.
    An origin may hold `*` (any DNS labels to its left; alone, any origin); `*` alone in
    methods or headers allows whatever the request asks for."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_s: int = 5
    allow_credentials: bool = False


@dataclass(frozen=True)
class BasicAuth:
    """HTTP Basic authentication: `users` in htpasswd form (`name:hash`, one a line, of a format
    `propylon.htpasswd` checks; kept out of `repr` since it is a Secret's content); after a success the user name is sent to the
    backend in `forward_username_header` when set."""

    users: str = field(repr=False)
    forward_username_header: str | None = None


@dataclass(frozen=True)
class ApiKeyAuth:
    """API key authentication: a request must carry one of `credentials` ((client id, key),
    keys kept out of `repr`) in the first of `sources` ((header|query|cookie, name)) present;
    the client id goes to the backend in `forward_client_id_header` when set, and `sanitize`
    removes the key from the request."""

    credentials: tuple[tuple[str, str], ...] = field(repr=False)
    sources: tuple[tuple[str, str], ...]
    forward_client_id_header: str | None = None
    sanitize: bool = False


@dataclass(frozen=True)
class Fault:
    """Faults injected before a route's backends are asked: a delay, and/or an answer with
    `abort_status` (HTTP) or `abort_grpc_status` instead of the backend's, each for a
    percentage of requests."""

    delay_ms: int | None = None
    delay_percent: float = 100.0
    abort_status: int | None = None
    abort_grpc_status: int | None = None
    abort_percent: float = 100.0


@dataclass(frozen=True)
class HashPolicy:
    """One input of a route's consistent hash (Envoy's route `hash_policy`): the client
    address, a request header, a query parameter, or a cookie, which the proxy sets (with
    `ttl_ms` as Max-Age and the `attributes`) when the request has none."""

    type: Literal["SourceIP", "Header", "Cookie", "QueryParam"]
    name: str = ""
    ttl_ms: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Session:
    """A route's session persistence (Envoy's stateful session filter): the endpoint chosen
    is remembered in the cookie or header `name`; a cookie has `path` and, unless it is a
    session cookie, `ttl_ms` as its Max-Age."""

    type: Literal["Cookie", "Header"]
    name: str
    ttl_ms: int | None = None
    path: str = "/"


@dataclass(frozen=True)
class Compression:
    """Response compression with one algorithm; responses with a body shorter than
    `min_content_length` bytes (None: Envoy's 30) are sent as they are."""

    type: Literal["Brotli", "Gzip", "Zstd"]
    min_content_length: int | None = None


@dataclass(frozen=True)
class JwtProvider:
    """A JWT issuer whose tokens the proxy verifies with the keys of `jwks` (a JSON Web Key
    Set). `name` is unique in the Gateway; verified claims are copied into headers
    (`claim_to_headers`, (claim, header)), and with `recompute_route` the route is chosen
    again afterwards. Tokens are looked for in the headers, cookies and query parameters
    given, else in `Authorization: Bearer`. Without `jwks`, the keys are fetched from
    `remote_uri` through the cluster `remote_cluster`, and kept `cache_duration_ms`; a failed
    fetch is tried again after `failed_refetch_ms` (None: Envoy's default, 1s)."""

    name: str
    jwks: str = field(repr=False)
    issuer: str | None = None
    audiences: tuple[str, ...] = ()
    claim_to_headers: tuple[tuple[str, str], ...] = ()
    recompute_route: bool = False
    from_headers: tuple[tuple[str, str], ...] = ()  # (header, value prefix)
    from_cookies: tuple[str, ...] = ()
    from_params: tuple[str, ...] = ()
    remote_uri: str | None = None
    remote_cluster: str | None = None
    cache_duration_ms: int | None = None
    failed_refetch_ms: int | None = None


@dataclass(frozen=True)
class Jwt:
    """A request must carry a token one of `providers` verifies (401 otherwise); with
    `optional`, a request without any token passes too."""

    providers: tuple[JwtProvider, ...]
    optional: bool = False

    @property
    def name(self) -> str:
        """The requirement's name: its providers', and whether it is optional."""
        return "|".join(p.name for p in self.providers) + ("?" if self.optional else "")


@dataclass(frozen=True)
class JwtClaimMatch:
    """The verified token's claim at `path` (nested keys) is one of `values`; with
    `string_array`, it is a list holding one of them."""

    path: tuple[str, ...]
    values: tuple[str, ...]
    string_array: bool = False


@dataclass(frozen=True)
class JwtPrincipal:
    """The request carries a token verified by the provider named `provider` (a JwtProvider's
    name) with every claim of `claims` and every scope of `scopes` (in its `scope` or `scp`)."""

    provider: str
    claims: tuple[JwtClaimMatch, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthzRule:
    """Matches a request when every part given matches: the client address is in one of
    `client_cidrs`, each header has one of its values, the token matches `jwt`, the method is
    one of `methods`."""

    allow: bool
    client_cidrs: tuple[str, ...] = ()
    headers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    methods: tuple[str, ...] = ()
    jwt: JwtPrincipal | None = None


@dataclass(frozen=True)
class Authorization:
    """The first rule matching a request decides (allowed, or 403); with none, the default."""

    rules: tuple[AuthzRule, ...]
    default_allow: bool = False


@dataclass(frozen=True)
class ExtAuth:
    """An external authorisation service asked about each request of the routes that name it
    (a SecurityPolicy's `extAuth`): one Envoy `ext_authz` filter per `name`, over gRPC
    (`envoy.service.auth.v3.Authorization`) or HTTP (the request's method and headers sent to
    `path_prefix` + its path, or to `path_override`) to `cluster`. A 2xx (gRPC OK) lets the
    request through with the `headers_to_backend` of the answer; anything else is the answer.
    `fail_open` lets requests through when the service cannot be reached."""

    name: str  # e.g. "securitypolicy/ns/name"
    cluster: str
    authority: str  # Host of the auth request
    grpc: bool = False
    path_prefix: str = ""
    path_override: str | None = None
    headers_to_backend: tuple[str, ...] = ()
    headers_to_ext_auth: tuple[str, ...] = ()
    fail_open: bool = False
    body_max_bytes: int | None = None
    recompute_route: bool = False
    timeout_ms: int = 10_000
    status_on_error: int | None = None  # the answer when the service fails (None: 403)
    context_extensions: tuple[tuple[str, str], ...] = ()  # (name, value), to gRPC services


@dataclass(frozen=True)
class Lua:
    """A Lua script Envoy runs on each request and response of the routes that carry it (an
    EnvoyExtensionPolicy's `lua[i]`, named `envoyextensionpolicy/<ns>/<name>/lua/<i>`)."""

    name: str
    code: str


@dataclass(frozen=True)
class DirectResponse:
    """An answer the proxy gives itself: `body` as written, or `body_format`, an Envoy
    substitution format (`%REQ(:METHOD)%` is the request's method) with its `content_type`
    (None: none)."""

    status: int
    body: str = ""
    content_type: str | None = None
    body_format: str | None = None


@dataclass(frozen=True)
class ResponseOverride:
    """An answer of the route's backends replaced by the proxy's: it matches when its status is
    in one of the inclusive `codes` ranges (or none are given) and every response header match
    (name, Exact/Prefix/Suffix/RegularExpression, value) holds. The replacement is either a
    `redirect` the proxy follows itself, or the answer with `status` (None: the same),
    `body_format` (an Envoy substitution format) with its `content_type`, and
    `response_headers`."""

    codes: tuple[tuple[int, int], ...] = ()
    headers: tuple[tuple[str, str, str], ...] = ()
    status: int | None = None
    content_type: str | None = None
    body_format: str | None = None
    response_headers: HeaderModifier | None = None
    redirect: Redirect | None = None


@dataclass(frozen=True)
class RouteSource:
    """The object a route entry comes from, as Envoy Gateway's route metadata names it (filter
    metadata `envoy-gateway`, `resources`; access logs read it with
    `%METADATA(ROUTE:envoy-gateway:resources)%`): kind, namespace, name, and its annotations
    of prefix `gateway.envoyproxy.io/`, without the prefix."""

    kind: str
    namespace: str
    name: str
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    """One (rule, match) pair of a route, in precedence order inside its VirtualHost.

    Exactly one of `backends`, `redirect` or `direct_response` decides what happens to the request.
    """

    name: str
    match: RouteMatch
    backends: tuple[WeightedBackend, ...] = ()
    redirect: Redirect | None = None
    direct_response: DirectResponse | None = None
    request_headers: HeaderModifier | None = None
    response_headers: HeaderModifier | None = None
    rewrite: Rewrite | None = None
    mirrors: tuple[Mirror, ...] = ()
    timeout_ms: int | None = None  # whole request; None = no timeout
    backend_timeout_ms: int | None = None  # each try
    retry: Retry | None = None
    cors: Cors | None = None
    fault: Fault | None = None
    rate_limit: LocalRateLimit | None = None
    hash_policies: tuple[HashPolicy, ...] = ()
    session: Session | None = None
    compression: tuple[Compression, ...] = ()  # in order of preference
    response_overrides: tuple[ResponseOverride, ...] = ()  # the first that matches
    jwt: Jwt | None = None
    authorization: Authorization | None = None
    basic_auth: BasicAuth | None = None
    api_key_auth: ApiKeyAuth | None = None
    ext_auth: ExtAuth | None = None
    source: RouteSource | None = None
    request_body_limit: int | None = None  # bytes; a larger request body is answered 413
    lua: tuple[Lua, ...] = ()  # run in order


@dataclass(frozen=True)
class VirtualHost:
    name: str
    domains: tuple[str, ...]  # "example.com", "*.example.com", or "*"
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RouteConfig:
    name: str
    virtual_hosts: tuple[VirtualHost, ...]


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    weight: int | None = None  # its share of the cluster's traffic (None: 1), relative
    hostname: str | None = None  # the name a Backend's FQDN gave it (for auto host rewrite)


@dataclass(frozen=True)
class TrustBundle:
    """CA certificates (PEM) that verify a backend; sent over SDS, so a CA change is one SDS push."""

    name: str
    ca_certificates: str = field(repr=False)


@dataclass(frozen=True)
class SubjectAltName:
    """A name the backend's certificate must carry (DNS names may be wildcards in the certificate)."""

    type: Literal["DNS", "URI"]
    value: str


@dataclass(frozen=True)
class UpstreamTLS:
    """TLS from the proxy to a cluster's endpoints. The backend's certificate must chain to
    `trust` (None: the system's trusted roots) and carry one of `subject_alt_names`."""

    sni: str
    trust: TrustBundle | None
    subject_alt_names: tuple[SubjectAltName, ...]
    client_certificate: str | None = None  # a Secret.name the proxy presents to the backend


@dataclass(frozen=True)
class Connection:
    """How the proxy manages its connections to a cluster's endpoints (None: Envoy's defaults
    as Propylon sets them): the TCP connect timeout, how long an idle HTTP connection is kept,
    the longest an HTTP connection lives, circuit breakers and health checks."""

    connect_timeout_ms: int | None = None
    idle_timeout_ms: int | None = None
    max_duration_ms: int | None = None
    circuit_breaker: CircuitBreaker | None = None
    health_check: HealthCheck | None = None


@dataclass(frozen=True)
class Utilization:
    """Weights from the endpoints' ORCA load reports (Envoy's client-side weighted round robin):
    how long a new weight waits, lasts and how often weights are recomputed (None: Envoy's
    defaults), the error penalty and the named metrics that make the utilization; with
    `out_of_band`, the reports come from each endpoint's OpenRcaService stream instead, asked
    for every `oob_period_ms` (None: Envoy's 10 s) on `oob_port` (None: the endpoint's port)."""

    blackout_ms: int | None = None
    weight_expiration_ms: int | None = None
    weight_update_ms: int | None = None
    error_penalty_percent: int | None = None
    metric_names: tuple[str, ...] = ()
    out_of_band: bool = False
    oob_period_ms: int | None = None
    oob_port: int | None = None


@dataclass(frozen=True)
class LoadBalancer:
    """How the proxy picks an endpoint of a cluster (None on a cluster: round robin):
    `Maglev` is a consistent hash over the route's `hash_policies` with a table of
    `table_size` entries; `slow_start_ms` ramps a new endpoint's share up over that time; a
    request whose `override_headers` name an endpoint (`address:port`) of the cluster goes
    there, the policy choosing otherwise."""

    policy: Literal["RoundRobin", "LeastRequest", "Random", "Maglev", "Utilization"]
    table_size: int | None = None
    slow_start_ms: int | None = None
    override_headers: tuple[str, ...] = ()  # headers naming the endpoint to use instead
    utilization: Utilization | None = None  # policy Utilization


@dataclass(frozen=True)
class Cluster:
    """The endpoints a proxy reaches. `resolver` says where their addresses come from: None,
    the control plane (EDS); "dns", they are DNS names the proxy resolves itself (a remote
    JWKS host that is not a Service)."""

    name: str  # e.g. "default/backend-1/80"
    endpoints: tuple[Endpoint, ...]
    protocol: ClusterProtocol = "http1"
    tls: UpstreamTLS | None = None
    connection: Connection | None = None
    load_balancer: LoadBalancer | None = None
    # the clusters whose endpoints this one serves, with their weights (a session rule's)
    members: tuple[tuple[str, int], ...] = ()
    resolver: Literal["dns"] | None = None


@dataclass(frozen=True)
class Secret:
    """A TLS certificate for SDS; `name` is `namespace/secret-name`."""

    name: str
    certificate_chain: str = field(repr=False)
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class ClientValidation:
    """Frontend mutual TLS: client certificates must chain to `ca_certificates` (PEM bundle;
    empty: any issuer), match one of `spki_hashes` (base64 SHA-256 of the public key) or
    `certificate_hashes` (hex SHA-256) when given, and have one of `subject_alt_names` ((type:
    DNS, EMAIL, IP_ADDRESS or URI; match: Exact, Prefix, Suffix or RegularExpression; value))
    when given. With `optional` (AllowInsecureFallback) a client without a valid certificate
    is let through; with `certificate_optional` (a ClientTrafficPolicy's `optional`) one
    without a certificate is, one with an invalid certificate is refused."""

    ca_certificates: str = field(repr=False)
    optional: bool = False
    spki_hashes: tuple[str, ...] = ()
    certificate_hashes: tuple[str, ...] = ()
    subject_alt_names: tuple[tuple[str, str, str], ...] = ()
    certificate_optional: bool = False


@dataclass(frozen=True)
class TLSFilterChain:
    """HTTPS: requests whose SNI matches `server_names` (empty = any) get these certificates."""

    name: str
    server_names: tuple[str, ...]
    secrets: tuple[str, ...]  # Secret.name values
    route_config: str  # RouteConfig.name
    client_validation: ClientValidation | None = None
    # the connection manager and TLS settings of the chain's own Gateway listener's
    # ClientTrafficPolicy when they are not its port's (None: `Listener.client_timeouts`
    # and `client`); socket options and connection limits stay the port's
    own_client: ChainClient | None = None


@dataclass(frozen=True)
class ChainClient:
    """A ClientTrafficPolicy's settings of one HTTPS filter chain (None: none)."""

    timeouts: ClientTimeouts | None = None
    client: ClientSettings | None = None


@dataclass(frozen=True)
class TCPFilterChain:
    """TLS listener (TLSRoute): connections whose SNI matches `server_names` (empty = any) are
    forwarded as a TCP stream to `backends`; a TCP listener's (TCPRoute) forwards every
    connection, a UDP listener's (UDPRoute) every client's datagrams (to its first backend
    with a cluster: a UDPRoute's several backends are one cluster). With `secrets` TLS is terminated first (mode
    Terminate); without, the still encrypted stream is passed through (mode Passthrough).
    Without any backend that has a cluster the connection is closed."""

    name: str
    server_names: tuple[str, ...]
    backends: tuple[WeightedBackend, ...]
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientTimeouts:
    """How long the proxy waits for clients (None: Propylon's defaults): for a whole request
    to be received, and on an idle client connection; `tcp_idle_ms`, how long a proxied TCP
    connection (TCPRoute, TLSRoute) may pass no bytes either way (Envoy's default: 1 hour)."""

    request_ms: int | None = None
    idle_ms: int | None = None
    tcp_idle_ms: int | None = None


@dataclass(frozen=True)
class HeaderMutation:
    """Header edits, in this order: set (replacing), add (appending), add when absent, remove
    by name, remove names matching (match type Exact, Prefix, Suffix or RegularExpression,
    value)."""

    set: tuple[HeaderValue, ...] = ()
    add: tuple[HeaderValue, ...] = ()
    add_if_absent: tuple[HeaderValue, ...] = ()
    remove: tuple[str, ...] = ()
    remove_on_match: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DownstreamTLS:
    """TLS parameters of an HTTPS listener (None or empty: Propylon's, see the README):
    versions ("1.0" to "1.3", "Auto"), TLS 1.2 cipher suites, curves, signature algorithms
    and the ALPN protocols offered."""

    min_version: str | None = None
    max_version: str | None = None
    ciphers: tuple[str, ...] = ()
    ecdh_curves: tuple[str, ...] = ()
    signature_algorithms: tuple[str, ...] = ()
    alpn: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClientSettings:
    """How the proxy treats its clients' requests (a ClientTrafficPolicy's): the client address
    from X-Forwarded-For (`xff_hops` trusted hops, or the addresses in `trusted_cidrs`) or
    from the header `custom_ip_header`; request headers edited before routing, response
    headers edited after every route filter; whether a client's X-Request-ID is kept; what
    becomes of header names with underscores (Allow, RejectRequest, DropHeader); HTTP/1
    trailers and HTTP/1.0, HTTP/2 windows, streams and what an invalid message ends (the
    stream or the connection), escaped slashes (KeepUnchanged, RejectRequest,
    UnescapeAndForward, UnescapeAndRedirect) and merged slashes, TCP keepalive probes, the
    TLS parameters of its HTTPS chains, and what becomes of the X-Forwarded-Client-Cert
    header (mode, and the client certificate's details it gets) (None: Propylon's
    defaults)."""

    xff_hops: int | None = None
    trusted_cidrs: tuple[str, ...] = ()
    skip_xff_append: bool = False
    custom_ip_header: str | None = None
    custom_ip_fail_closed: bool = False
    early_request_headers: HeaderMutation | None = None
    late_response_headers: HeaderMutation | None = None
    preserve_request_id: bool | None = None
    underscores: str | None = None
    enable_trailers: bool | None = None
    accept_http10: bool | None = None
    h2_stream_window: int | None = None
    h2_connection_window: int | None = None
    h2_max_streams: int | None = None
    h2_terminate_stream: bool | None = None
    escaped_slashes: str | None = None
    merge_slashes: bool | None = None
    keepalive_probes: int | None = None
    keepalive_idle_s: int | None = None
    keepalive_interval_s: int | None = None
    tls: DownstreamTLS | None = None
    xfcc_mode: str | None = None  # Sanitize, ForwardOnly, AppendForward, SanitizeSet, ...
    xfcc_details: tuple[str, ...] = ()  # Subject, Cert, Chain, DNS, URI


@dataclass(frozen=True)
class Listener:
    """One bound socket. `port` is the Gateway listener port; `bind_port` is where Envoy binds
    (they differ when a privileged port is mapped for a non-root user). `client_timeouts`
    and `client` apply to every HTTP connection it accepts."""

    name: str
    bind_address: str
    port: int
    bind_port: int
    # HTTPS and TLS: chains selected by SNI; UDP: a UDP socket, its datagrams proxied
    protocol: Literal["HTTP", "HTTPS", "TLS", "TCP", "UDP"]
    route_config: str | None = None  # HTTP
    tls_chains: tuple[TLSFilterChain, ...] = ()  # HTTPS listeners of the port
    # TLS listeners of the port; TCP and UDP: the one route served (no server names)
    tcp_chains: tuple[TCPFilterChain, ...] = ()
    client_timeouts: ClientTimeouts | None = None
    connection_limit: ConnectionLimit | None = None
    client: ClientSettings | None = None
    access_logs: tuple[AccessLog, ...] = ()  # an EnvoyProxy's telemetry, or the default


@dataclass(frozen=True)
class GatewayIR:
    key: GatewayKey
    listeners: tuple[Listener, ...]
    route_configs: tuple[RouteConfig, ...]
    clusters: tuple[Cluster, ...]
    secrets: tuple[Secret, ...]
    patches: tuple[JsonPatch, ...] = ()  # EnvoyPatchPolicies' patches, in order


@dataclass(frozen=True)
class InfraListener:
    name: str
    port: int
    protocol: str


def transport(protocol: str) -> Literal["TCP", "UDP"]:
    """The socket a listener protocol is served on: "UDP" for UDP, "TCP" for all others."""
    return "UDP" if protocol == "UDP" else "TCP"


@dataclass(frozen=True)
class ProxyParameters:
    """How a Gateway's proxies run, from Propylon's GatewayParameters (the GatewayClass's,
    overridden field by field by the Gateway's). None or empty: the infrastructure manager's
    default. `resources`, `tolerations` and `affinity` are Kubernetes pod-spec fragments kept as
    canonical JSON text (sorted keys), passed through unchanged; the host manager uses only
    `concurrency`."""

    image: str | None = None
    replicas: int | None = None
    resources: str | None = None  # JSON: {"requests": {...}, "limits": {...}}
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: str | None = None  # JSON: a list of tolerations
    affinity: str | None = None  # JSON: an Affinity
    pod_labels: tuple[tuple[str, str], ...] = ()
    pod_annotations: tuple[tuple[str, str], ...] = ()
    service_type: str | None = None  # LoadBalancer | NodePort | ClusterIP
    concurrency: int | None = None  # Envoy worker threads
    autoscaling: str | None = None  # JSON: minReplicas, maxReplicas, metrics of an HPA
    disruption_budget: str | None = None  # JSON: minAvailable or maxUnavailable of a PDB
    topology_spread: str | None = None  # JSON: a list of topologySpreadConstraints
    priority_class: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    pod_security_context: str | None = None  # JSON: laid over the restricted defaults
    container_security_context: str | None = None  # JSON: laid over the restricted defaults


@dataclass(frozen=True)
class InfraIR:
    """What the infrastructure manager must provide for one Gateway: a proxy reachable on these
    ports, at one of the requested addresses if any."""

    key: GatewayKey
    gateway_class: str
    listeners: tuple[InfraListener, ...]
    requested_addresses: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    parameters: ProxyParameters = ProxyParameters()

    def port_transports(self) -> list[tuple[int, Literal["TCP", "UDP"]]]:
        """Every (port, transport) its listeners are served on, sorted: a port number may be
        served over TCP and UDP."""
        return sorted({(li.port, transport(li.protocol)) for li in self.listeners})

    def transports(self, port: int) -> tuple[str, ...]:
        """The transports `port` is served on ("TCP", "UDP")."""
        return tuple(t for p, t in self.port_transports() if p == port)


@dataclass(frozen=True)
class PortState:
    """Where a Gateway listener port is really served, or why it cannot be."""

    port: int
    bind_port: int | None
    error: str | None = None


@dataclass(frozen=True)
class InfraState:
    """What the infrastructure manager reports back for one Gateway; input to the next
    translation, which turns it into `status.addresses` and Programmed conditions."""

    key: GatewayKey
    address: str | None
    ports: tuple[PortState, ...] = ()
    ready: bool = False
    message: str = ""
    # no address because the requested ones (spec.addresses) cannot be served: AddressNotUsable
    address_unusable: bool = False
    # where Envoy binds its listeners when that is not `address` (in a pod: 0.0.0.0, while
    # `address` is the load balancer's)
    bind_address: str | None = None


@dataclass(frozen=True)
class Rejections:
    """What the Envoys of one Gateway refused, with Envoy's message, as the xDS server reports
    it back; input to the next translation, which writes it into the source objects' status.

    Each map goes from a resource name (as the xDS translation names it) to Envoy's message:
    `listeners` (IR `Listener.name`), `secrets` (IR `Secret.name`), `clusters` (IR
    `Cluster.name`, their endpoints included) and `routes` (IR `Route.name`: route entries left
    out of their virtual host, which Envoy serves without them; every route of a virtual host
    refused whole). `patches` goes from an EnvoyPatchPolicy (namespace/name) to why the xDS
    translation left its patches out (`xds.translate.patches`).
    """

    listeners: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    clusters: Mapping[str, str] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)
    patches: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any((self.listeners, self.secrets, self.clusters, self.routes, self.patches))
