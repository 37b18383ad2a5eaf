"""Envoy Gateway's policy resources (gateway.envoyproxy.io/v1alpha1), decoded.

`Policy.decode(obj)` reads what every policy kind shares: its targets (`targetRef`,
`targetRefs`, each a Gateway API LocalPolicyTargetReferenceWithSectionName, and
`targetSelectors`, kind plus label selector), `mergeType`, and the spec as canonical JSON (so
the value is frozen and a merge of two specs can be decoded again). `problems` lists, as
messages naming the field and the fix, every field of the spec Propylon does not implement yet
and every value it cannot use: a policy with problems is not applied (see
`translate.policies`), so nothing it asks for is silently ignored.

`backend_traffic(spec)` decodes the fields of a BackendTrafficPolicy spec Propylon implements
(`SUPPORTED`): `retry`, `timeout`, `faultInjection`, `compressor` (`compression`),
`responseOverride`, `requestBuffer.limit`, `loadBalancer` (`propylon.api.loadbalancer`), and
(`envoygateway_limits`)
`circuitBreaker`, `healthCheck` and a Local `rateLimit`, with Envoy Gateway's
defaults (2 retries; without
`retryOn`, connection failures, refused streams, `unavailable`, `cancelled` and status 503);
`security(spec)` those of a SecurityPolicy: `cors`, `jwt` with local JWKS and `authorization`
(`egauth`), `basicAuth` and `apiKeyAuth` (the Secrets they name as `SecretRef`s;
`translate.policies.credentials` reads them), `extAuth` (`api.extauth`); `client_traffic(spec)`
those of a ClientTrafficPolicy: `timeout.http`, `clientIPDetection`, `headers`, `http1`,
`http2`, `path`, `tcpKeepalive` and `tls` (`clienttraffic`), `connection.connectionLimit`,
`maxAcceptPerSocketEvent` and `headers.disableRateLimitHeaders`. An EnvoyExtensionPolicy's
`lua` is checked by `lua.lua_scripts`. A Global `rateLimit` is
refused with its reason (Propylon provides no rate-limit service). An EnvoyPatchPolicy's
patches are checked by `envoypatch.json_patches`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from propylon.api.clienttraffic import (
    ClientIP,
    HeaderSettings,
    Protocols,
    TLSSettings,
    client_ip,
    headers,
    protocols,
    tls,
)
from propylon.api.clientvalidation import ClientValidationSpec, client_validation
from propylon.api.compression import Compressor, byte_size, compressors
from propylon.api.egauth import AuthzSettings, JwtSettings, authorization, jwt
from propylon.api.envoygateway_limits import (
    circuit_breaker,
    connection_limit,
    health_check,
    local_rate_limit,
    rate_limit_problems,
)
from propylon.api.envoypatch import json_patches
from propylon.api.extauth import ExtAuthSettings, ext_auth
from propylon.api.formats import duration_ms
from propylon.api.gateway import LabelSelector, label_selector
from propylon.api.loadbalancer import LoadBalancerSettings, load_balancer
from propylon.api.lua import lua_scripts
from propylon.api.meta import ObjectMeta
from propylon.api.responseoverride import OverrideRule, response_overrides
from propylon.ir.limits import CircuitBreaker, ConnectionLimit, HealthCheck, LocalRateLimit
from propylon.ir.model import Cors, Fault, Retry

GROUP = "gateway.envoyproxy.io"
GATEWAY_GROUP = "gateway.networking.k8s.io"
SECURITY_POLICY = "SecurityPolicy"
BACKEND_TRAFFIC_POLICY = "BackendTrafficPolicy"
CLIENT_TRAFFIC_POLICY = "ClientTrafficPolicy"
ENVOY_EXTENSION_POLICY = "EnvoyExtensionPolicy"
ENVOY_PATCH_POLICY = "EnvoyPatchPolicy"
POLICY_KINDS = (SECURITY_POLICY, BACKEND_TRAFFIC_POLICY, CLIENT_TRAFFIC_POLICY,
                ENVOY_EXTENSION_POLICY, ENVOY_PATCH_POLICY)

_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")  # Gateway API Duration
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
_TARGETING = {"targetRef": True, "targetRefs": True, "targetSelectors": True}
Tree = Mapping[str, "Tree | bool"]
# The spec fields Propylon implements, per kind (True: the field and everything under it).
SUPPORTED: dict[str, Tree] = {
    BACKEND_TRAFFIC_POLICY: {
        **_TARGETING, "mergeType": True,
        "retry": {"numRetries": True,
                  "retryOn": {"triggers": True, "httpStatusCodes": True},
                  "perRetry": {"timeout": True,
                               "backOff": {"baseInterval": True, "maxInterval": True}}},
        "timeout": {"http": {"requestTimeout": True, "connectionIdleTimeout": True,
                             "maxConnectionDuration": True},
                    "tcp": {"connectTimeout": True}},
        "faultInjection": {"delay": {"fixedDelay": True, "percentage": True},
                           "abort": {"httpStatus": True, "grpcStatus": True,
                                     "percentage": True}},
        "circuitBreaker": {"maxConnections": True, "maxPendingRequests": True,
                           "maxParallelRequests": True, "maxParallelRetries": True,
                           "maxRequestsPerConnection": True, "retryBudget": True},
        "healthCheck": {"active": {"type": True, "timeout": True, "interval": True,
                                   "unhealthyThreshold": True, "healthyThreshold": True,
                                   "http": {"path": True, "method": True, "hostname": True,
                                            "expectedStatuses": True,
                                            "expectedResponse": True},
                                   "tcp": True, "grpc": True, "overrides": True},
                        "passive": {"interval": True, "baseEjectionTime": True,
                                    "consecutive5XxErrors": True,
                                    "consecutiveGatewayErrors": True,
                                    "consecutiveLocalOriginFailures": True,
                                    "maxEjectionPercent": True,
                                    "splitExternalLocalOriginErrors": True},
                        "panicThreshold": True},
        "rateLimit": {"type": True, "local": {"rules": True}, "global": True},
        "loadBalancer": {"type": True, "slowStart": {"window": True}, "endpointOverride": True,
                         "backendUtilization": {
                             "blackoutPeriod": True, "weightExpirationPeriod": True,
                             "weightUpdatePeriod": True, "errorUtilizationPenaltyPercent": True,
                             "metricNamesForComputingUtilization": True,
                             "keepResponseHeaders": True, "outOfBand": True},
                         "zoneAware": True,
                         "consistentHash": {"type": True, "header": True, "headers": True,
                                            "cookie": True, "queryParams": True,
                                            "tableSize": True}},
        "compressor": True, "compression": True, "responseOverride": True,
        "requestBuffer": {"limit": True},
    },
    SECURITY_POLICY: {
        **_TARGETING, "mergeType": True,
        "cors": {"allowOrigins": True, "allowMethods": True, "allowHeaders": True,
                 "exposeHeaders": True, "maxAge": True, "allowCredentials": True},
        "extAuth": {"http": {"backendRef": True, "backendRefs": True, "path": True,
                             "pathOverride": True, "headersToBackend": True},
                    "grpc": {"backendRef": True, "backendRefs": True},
                    "headersToExtAuth": True, "failOpen": True, "bodyToExtAuth": True,
                    "recomputeRoute": True, "timeout": True, "statusOnError": True,
                    "contextExtensions": True},
        "jwt": {"optional": True,
                "providers": {"name": True, "issuer": True, "audiences": True,
                              "claimToHeaders": True, "recomputeRoute": True,
                              "extractFrom": True,
                              "localJWKS": {"type": True, "inline": True,
                                            "valueRef": True},
                              "remoteJWKS": {"uri": True, "cacheDuration": True,
                                             "backendRefs": True,
                                             "failedRefetchDuration": True}}},
        "authorization": {"defaultAction": True,
                          "rules": {"name": True, "action": True,
                                    "principal": {"clientCIDRs": True, "headers": True,
                                                  "jwt": True},
                                    "operation": {"methods": True}}},
        "basicAuth": {"users": True, "forwardUsernameHeader": True},
        "apiKeyAuth": {"credentialRefs": True, "extractFrom": True,
                       "forwardClientIDHeader": True, "sanitize": True},
    },
    CLIENT_TRAFFIC_POLICY: {
        **_TARGETING,
        "timeout": {"http": {"requestReceivedTimeout": True, "idleTimeout": True},
                    "tcp": {"idleTimeout": True}},
        "connection": {"connectionLimit": {"value": True, "closeDelay": True},
                       "maxAcceptPerSocketEvent": True, "bufferLimit": True},
        "clientIPDetection": {"xForwardedFor": {"numTrustedHops": True, "trustedCIDRs": True,
                                                "disableXForwardedForAppend": True},
                              "customHeader": {"name": True, "failClosed": True}},
        "headers": {"earlyRequestHeaders": True, "lateResponseHeaders": True,
                    "preserveXRequestID": True, "withUnderscoresAction": True,
                    "disableRateLimitHeaders": True,
                    "xForwardedClientCert": {"mode": True, "certDetailsToAdd": True}},
        "http1": {"enableTrailers": True, "http10": True},
        "http2": {"initialStreamWindowSize": True, "initialConnectionWindowSize": True,
                  "maxConcurrentStreams": True, "onInvalidMessage": True},
        "path": {"escapedSlashesAction": True, "disableMergeSlashes": True},
        "tcpKeepalive": {"probes": True, "idleTime": True, "interval": True},
        "tls": {"minVersion": True, "maxVersion": True, "ciphers": True, "ecdhCurves": True,
                "signatureAlgorithms": True, "alpnProtocols": True,
                "clientValidation": {"optional": True, "caCertificateRefs": True,
                                     "spkiHashes": True, "certificateHashes": True,
                                     "subjectAltNames": {"dnsNames": True,
                                                         "emailAddresses": True,
                                                         "ipAddresses": True, "uris": True}}},
    },
    ENVOY_EXTENSION_POLICY: {**_TARGETING,
                             "lua": {"type": True, "inline": True, "valueRef": True}},
    ENVOY_PATCH_POLICY: {**_TARGETING, "type": True, "jsonPatches": True, "priority": True},
}
RETRY_TRIGGERS = ("5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx",
                  "refused-stream", "retriable-status-codes", "cancelled", "deadline-exceeded",
                  "internal", "resource-exhausted", "unavailable")
DEFAULT_RETRIES = 2
DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable", "cancelled",
                    "retriable-status-codes")
DEFAULT_RETRY_CODES = (503,)
DEFAULT_CORS_MAX_AGE_S = 5


@dataclass(frozen=True)
class TargetRef:
    """A target named in `targetRef` or `targetRefs[i]` (`field` says which)."""

    group: str
    kind: str
    name: str
    section_name: str | None
    field: str


@dataclass(frozen=True)
class TargetSelector:
    """`targetSelectors[i]`: every object of `kind` in the policy's namespace whose labels
    match."""

    group: str
    kind: str
    selector: LabelSelector
    field: str


@dataclass(frozen=True)
class Credentials:
    """What a SecurityPolicy's Secrets hold, once read (`translate.policies.credentials`): the
    htpasswd lines of `basicAuth.users`, the (client id, key) pairs of `apiKeyAuth`. Kept out
    of `repr`."""

    htpasswd: str | None = field(default=None, repr=False)
    api_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Policy:
    kind: str
    meta: ObjectMeta
    target_refs: tuple[TargetRef, ...]
    target_selectors: tuple[TargetSelector, ...]
    merge_type: str | None
    spec: str  # canonical JSON
    problems: tuple[str, ...]
    credentials: Credentials | None = None  # read from the Secrets the spec names

    @property
    def key(self) -> tuple[str, str]:
        return (self.meta.namespace, self.meta.name)

    def spec_value(self) -> dict[str, Any]:
        value = json.loads(self.spec)
        return value if isinstance(value, dict) else {}

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> Policy:
        kind = str(obj.get("kind", ""))
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        refs = []
        if isinstance(spec.get("targetRef"), dict):
            refs.append(_target_ref(spec["targetRef"], "spec.targetRef"))
        refs.extend(_target_ref(r, f"spec.targetRefs[{i}]")
                    for i, r in enumerate(spec.get("targetRefs") or ()) if isinstance(r, dict))
        selectors = tuple(
            TargetSelector(str(s.get("group") or GATEWAY_GROUP), str(s.get("kind", "")),
                           label_selector(s) or LabelSelector(), f"spec.targetSelectors[{i}]")
            for i, s in enumerate(spec.get("targetSelectors") or ()) if isinstance(s, dict))
        problems = [f"{path} is not implemented by Propylon yet: remove it from the "
                    f"{kind}, or express it another way"
                    for path in unsupported(spec, SUPPORTED.get(kind, {}), "spec")]
        if kind == BACKEND_TRAFFIC_POLICY:
            problems.extend(backend_traffic(spec)[1])
            problems.extend(rate_limit_problems(spec))
        if kind == SECURITY_POLICY:
            problems.extend(security(spec, str(ObjectMeta.of(obj).namespace))[1])
        if kind == CLIENT_TRAFFIC_POLICY:
            problems.extend(client_traffic(spec)[1])
        if kind == ENVOY_EXTENSION_POLICY:
            problems.extend(lua_scripts(spec)[1])
        if kind == ENVOY_PATCH_POLICY:
            meta = ObjectMeta.of(obj)
            problems.extend(json_patches(spec, f"{meta.namespace}/{meta.name}")[1])
        merge = spec.get("mergeType")
        return cls(kind, ObjectMeta.of(obj), tuple(refs), selectors,
                   str(merge) if merge else None, json.dumps(spec, sort_keys=True),
                   tuple(problems))


def _target_ref(raw: dict[str, Any], field: str) -> TargetRef:
    section = raw.get("sectionName")
    return TargetRef(str(raw.get("group") or ""), str(raw.get("kind", "")),
                     str(raw.get("name", "")), str(section) if section else None, field)


def unsupported(value: Mapping[str, Any], tree: Tree, path: str) -> list[str]:
    """The paths of the fields of `value` that `tree` does not list (in each item of a
    list)."""
    out = []
    for key, child in value.items():
        allowed = tree.get(key)
        if allowed is None:
            out.append(f"{path}.{key}")
        elif isinstance(allowed, Mapping) and isinstance(child, Mapping):
            out.extend(unsupported(child, allowed, f"{path}.{key}"))
        elif isinstance(allowed, Mapping) and isinstance(child, list):
            for i, item in enumerate(child):
                if isinstance(item, Mapping):
                    out.extend(unsupported(item, allowed, f"{path}.{key}[{i}]"))
    return out


@dataclass(frozen=True)
class TimeoutSettings:
    request_ms: int | None = None
    idle_ms: int | None = None
    max_connection_ms: int | None = None
    connect_ms: int | None = None


@dataclass(frozen=True)
class BackendTraffic:
    """The implemented part of a BackendTrafficPolicy spec."""

    retry: Retry | None = None
    timeout: TimeoutSettings | None = None
    fault: Fault | None = None
    compressors: tuple[Compressor, ...] = ()
    overrides: tuple[OverrideRule, ...] = ()
    load_balancer: LoadBalancerSettings | None = None
    circuit_breaker: CircuitBreaker | None = None
    health_check: HealthCheck | None = None
    rate_limit: LocalRateLimit | None = None
    request_buffer_bytes: int | None = None


def backend_traffic(spec: Mapping[str, Any]) -> tuple[BackendTraffic, list[str]]:
    """The implemented fields of a BackendTrafficPolicy spec, and what is wrong with them."""
    errors: list[str] = []
    duration = _durations(errors)
    retry = None
    raw = spec.get("retry")
    if isinstance(raw, Mapping):
        on_raw = raw.get("retryOn")
        if isinstance(on_raw, Mapping):
            on = tuple(str(t) for t in on_raw.get("triggers") or ())
            codes = tuple(c for c in on_raw.get("httpStatusCodes") or () if isinstance(c, int))
            for trigger in on:
                if trigger not in RETRY_TRIGGERS:
                    errors.append(f"spec.retry.retryOn.triggers: {trigger!r} is not a retry "
                                  f"trigger: use one of {', '.join(RETRY_TRIGGERS)}")
            for code in codes:
                if not 100 <= code <= 599:
                    errors.append(f"spec.retry.retryOn.httpStatusCodes: {code} is not an HTTP "
                                  "status code: use 100-599")
        else:
            on, codes = DEFAULT_RETRY_ON, DEFAULT_RETRY_CODES
        per_try = _section(raw, "perRetry")
        back_off = _section(per_try, "backOff")
        attempts = raw.get("numRetries", DEFAULT_RETRIES)
        if not isinstance(attempts, int) or not 0 <= attempts < 2**32:
            errors.append(f"spec.retry.numRetries: {attempts!r} is not a number of retries: "
                          "use 0 or more")
            attempts = DEFAULT_RETRIES
        retry = Retry(
            attempts, codes,
            duration("spec.retry.perRetry.backOff.baseInterval", back_off.get("baseInterval")),
            on,
            duration("spec.retry.perRetry.backOff.maxInterval", back_off.get("maxInterval")),
            duration("spec.retry.perRetry.timeout", per_try.get("timeout")))
        if retry.backoff_max_ms is not None and retry.backoff_ms is None:
            errors.append("spec.retry.perRetry.backOff: maxInterval needs baseInterval: set it")
    timeout = None
    raw = spec.get("timeout")
    if isinstance(raw, Mapping):
        http, tcp = _section(raw, "http"), _section(raw, "tcp")
        timeout = TimeoutSettings(
            duration("spec.timeout.http.requestTimeout", http.get("requestTimeout")),
            duration("spec.timeout.http.connectionIdleTimeout", http.get("connectionIdleTimeout")),
            duration("spec.timeout.http.maxConnectionDuration", http.get("maxConnectionDuration")),
            duration("spec.timeout.tcp.connectTimeout", tcp.get("connectTimeout")))
    fault = None
    raw = spec.get("faultInjection")
    if isinstance(raw, Mapping):
        delay, abort = _section(raw, "delay"), _section(raw, "abort")

        def percent(path: str, section: Mapping[str, Any]) -> float:
            value = section.get("percentage", 100)
            if not isinstance(value, int | float) or not 0 <= value <= 100:
                errors.append(f"{path}.percentage: {value!r} is not a percentage: use 0-100")
                return 100.0
            return float(value)

        status = abort.get("httpStatus")
        if status is not None and (not isinstance(status, int) or not 200 <= status < 600):
            errors.append(f"spec.faultInjection.abort.httpStatus: {status!r} is not an HTTP "
                          "status code Envoy sends: use 200-599")
            status = None
        grpc = abort.get("grpcStatus")
        fault = Fault(
            duration("spec.faultInjection.delay.fixedDelay", delay.get("fixedDelay")),
            percent("spec.faultInjection.delay", delay), status,
            grpc if isinstance(grpc, int) else None,
            percent("spec.faultInjection.abort", abort))
    balancer = None
    raw = spec.get("loadBalancer")
    if isinstance(raw, Mapping):
        balancer, found = load_balancer(raw, duration)
        errors.extend(found)
    return BackendTraffic(retry, timeout, fault, compressors(spec, errors),
                          response_overrides(spec, errors), balancer,
                          circuit_breaker(spec, errors), health_check(spec, errors, duration),
                          local_rate_limit(spec, errors), _request_buffer(spec, errors)), errors


def _request_buffer(spec: Mapping[str, Any], errors: list[str]) -> int | None:
    """`requestBuffer.limit`: the largest request body, in bytes (a larger one gets 413)."""
    raw = _section(spec, "requestBuffer")
    if not raw:
        return None
    limit = byte_size(raw.get("limit"))
    if limit is None:
        errors.append(f"spec.requestBuffer.limit: {raw.get('limit')!r} is not a size in bytes: "
                      "write it as a quantity such as 8Mi or 1048576")
    return limit


@dataclass(frozen=True)
class SecretRef:
    """A SecretObjectReference (`field` names it in the spec); `namespace` defaulted to the
    policy's."""

    group: str
    kind: str
    namespace: str
    name: str
    field: str


@dataclass(frozen=True)
class BasicAuthSettings:
    users: SecretRef
    forward_username_header: str | None


@dataclass(frozen=True)
class ApiKeyAuthSettings:
    credential_refs: tuple[SecretRef, ...]
    sources: tuple[tuple[str, str], ...]  # (header|query|cookie, name), in extractFrom order
    forward_client_id_header: str | None
    sanitize: bool


@dataclass(frozen=True)
class Security:
    """The implemented part of a SecurityPolicy spec."""

    cors: Cors | None = None
    jwt: JwtSettings | None = None
    authorization: AuthzSettings | None = None
    basic_auth: BasicAuthSettings | None = None
    api_key_auth: ApiKeyAuthSettings | None = None
    ext_auth: ExtAuthSettings | None = None


def security(spec: Mapping[str, Any], namespace: str = "") -> tuple[Security, list[str]]:
    """The implemented fields of a SecurityPolicy spec, and what is wrong with them; Secret
    references without a namespace are in `namespace` (the policy's)."""
    errors: list[str] = []
    jwt_settings: JwtSettings | None = None
    authz: AuthzSettings | None = None
    if isinstance(spec.get("jwt"), Mapping):
        jwt_settings, found = jwt(spec["jwt"])
        errors.extend(found)
    if isinstance(spec.get("authorization"), Mapping):
        authz, found = authorization(spec["authorization"], tuple(
            p.name for p in (jwt_settings.providers if jwt_settings is not None else ())))
        errors.extend(found)
    basic = _basic_auth(spec, namespace, errors)
    api_key = _api_key_auth(spec, namespace, errors)
    found_ext_auth: ExtAuthSettings | None = None
    if isinstance(spec.get("extAuth"), Mapping):
        found_ext_auth, found = ext_auth(spec["extAuth"])
        errors.extend(found)
    raw = spec.get("cors")
    if not isinstance(raw, Mapping):
        return Security(None, jwt_settings, authz, basic, api_key, found_ext_auth), errors

    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in raw.get(key) or ())

    max_age = raw.get("maxAge")
    if max_age is not None and (not isinstance(max_age, str) or not _DURATION.match(max_age)):
        errors.append(f"spec.cors.maxAge: {max_age!r} is not a duration: write it as 10m or "
                      "600s")
        max_age = None
    return Security(Cors(
        strings("allowOrigins"), strings("allowMethods"), strings("allowHeaders"),
        strings("exposeHeaders"),
        DEFAULT_CORS_MAX_AGE_S if max_age is None else duration_ms(max_age) // 1000,
        bool(raw.get("allowCredentials"))), jwt_settings, authz, basic, api_key,
        found_ext_auth), errors


def _secret_ref(raw: Any, field: str, namespace: str, errors: list[str]) -> SecretRef | None:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        errors.append(f"{field}: name a Secret (name, and namespace when it is in another one)")
        return None
    ref = SecretRef(str(raw.get("group") or ""), str(raw.get("kind") or "Secret"),
                    str(raw.get("namespace") or namespace), str(raw["name"]), field)
    if (ref.group, ref.kind) != ("", "Secret"):
        errors.append(f"{field}: {ref.kind} of group {ref.group!r} cannot hold credentials: "
                      "reference a core Secret (group \"\", kind Secret)")
        return None
    return ref


def _header_name(value: Any, field: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _HEADER_NAME.match(value):
        errors.append(f"{field}: {value!r} is not an HTTP header name: use letters, digits "
                      "and - only, such as X-Authenticated-User")
        return None
    return value


def _basic_auth(spec: Mapping[str, Any], namespace: str,
                errors: list[str]) -> BasicAuthSettings | None:
    raw = spec.get("basicAuth")
    if not isinstance(raw, Mapping):
        return None
    users = _secret_ref(raw.get("users"), "spec.basicAuth.users", namespace, errors)
    header = _header_name(raw.get("forwardUsernameHeader"), "spec.basicAuth.forwardUsernameHeader",
                          errors)
    return None if users is None else BasicAuthSettings(users, header)


def _api_key_auth(spec: Mapping[str, Any], namespace: str,
                  errors: list[str]) -> ApiKeyAuthSettings | None:
    raw = spec.get("apiKeyAuth")
    if not isinstance(raw, Mapping):
        return None
    refs = [_secret_ref(r, f"spec.apiKeyAuth.credentialRefs[{i}]", namespace, errors)
            for i, r in enumerate(raw.get("credentialRefs") or ())]
    if not refs:
        errors.append("spec.apiKeyAuth.credentialRefs: name at least one Secret holding the "
                      "API keys (client id -> key)")
    sources = []
    for i, item in enumerate(raw.get("extractFrom") or ()):
        item = item if isinstance(item, Mapping) else {}
        for key, kind in (("headers", "header"), ("params", "query"), ("cookies", "cookie")):
            for j, name in enumerate(item.get(key) or ()):
                if not isinstance(name, str) or not name:
                    errors.append(f"spec.apiKeyAuth.extractFrom[{i}].{key}[{j}]: give a "
                                  "non-empty name")
                else:
                    sources.append((kind, name))
    if not sources:
        errors.append("spec.apiKeyAuth.extractFrom: say where the key is: a header, query "
                      "parameter or cookie name")
    header = _header_name(raw.get("forwardClientIDHeader"),
                          "spec.apiKeyAuth.forwardClientIDHeader", errors)
    if not refs or not sources or None in refs:
        return None
    return ApiKeyAuthSettings(tuple(r for r in refs if r is not None), tuple(sources), header,
                              raw.get("sanitize") is True)


@dataclass(frozen=True)
class ClientTraffic:
    """The implemented part of a ClientTrafficPolicy spec."""

    request_received_ms: int | None = None
    idle_ms: int | None = None
    client_ip: ClientIP | None = None
    headers: HeaderSettings | None = None
    protocols: Protocols | None = None
    tls: TLSSettings | None = None
    connection_limit: ConnectionLimit | None = None
    rate_limit_headers: bool = True
    tcp_idle_ms: int | None = None  # `timeout.tcp.idleTimeout`: TCP proxies' idle timeout
    client_validation: ClientValidationSpec | None = None  # `tls.clientValidation`


def client_traffic(spec: Mapping[str, Any]) -> tuple[ClientTraffic, list[str]]:
    """The implemented fields of a ClientTrafficPolicy spec, and what is wrong with them."""
    errors: list[str] = []
    http = _section(_section(spec, "timeout"), "http")
    out = []
    for key in ("requestReceivedTimeout", "idleTimeout"):
        value = http.get(key)
        if value is not None and (not isinstance(value, str) or not _DURATION.match(value)):
            errors.append(f"spec.timeout.http.{key}: {value!r} is not a duration: write it as "
                          "1h, 30s or 250ms")
            value = None
        out.append(None if value is None else duration_ms(value))
    tcp_idle = _durations(errors)("spec.timeout.tcp.idleTimeout",
                                  _section(_section(spec, "timeout"), "tcp").get("idleTimeout"))
    return ClientTraffic(out[0], out[1], client_ip(spec, errors), headers(spec, errors),
                         protocols(spec, errors), tls(spec, errors),
                         connection_limit(spec, errors, _durations(errors)),
                         not _section(spec, "headers").get("disableRateLimitHeaders"),
                         tcp_idle, client_validation(spec, errors)), errors


def _durations(errors: list[str]) -> Callable[[str, Any], int | None]:
    """A parser of Gateway API durations (None when absent) adding its problems to `errors`."""

    def duration(path: str, value: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _DURATION.match(value):
            errors.append(f"{path}: {value!r} is not a duration: write it as 1h, 30s, 250ms or "
                          "a sum such as 1m30s")
            return None
        return duration_ms(value)

    return duration


def _section(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`value[key]` when it is a mapping, else an empty one."""
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}
