"""A SecurityPolicy's `jwt` and `authorization`, decoded (Envoy Gateway's semantics).

`jwt(raw)` reads `spec.jwt`: its providers (name, issuer, audiences, the JWKS given inline in
`localJWKS` or fetched as `remoteJWKS` over http:// or https:// from a Service or a DNS name
(`cacheDuration`, `failedRefetchDuration`), `claimToHeaders`, `recomputeRoute`, `extractFrom`)
and `optional`. A `valueRef` to a ConfigMap is replaced by its value before (`inline_jwks`);
one left is a ConfigMap that was not found.
`authorization(raw)` reads `spec.authorization`: rules in order, each an action (Allow or Deny)
with a principal (client CIDRs, headers with the values allowed, the claims and scopes of a
token verified by one of the policy's `jwt` providers) and an operation (methods), and
`defaultAction` (Deny when absent, as in Envoy Gateway). Both return the settings and the
messages for values that cannot be used, each naming the field and the fix.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from propylon.api.core import service_of_host
from propylon.api.formats import duration_ms
from propylon.api.validation import DURATION

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")


@dataclass(frozen=True)
class RemoteJwks:
    """Where the JWKS is fetched: `uri`, from the Service port named by `backendRefs` (in the
    policy's namespace, `namespace` None) or by the URI's host
    (`<service>.<namespace>[.svc[.cluster.local]]`, its port or 80/443), as a name in the
    cluster's DNS would reach it; any other host is `dns_host`, a DNS name the proxy resolves.
    With `tls` (an https:// URI) the keys are fetched over TLS."""

    uri: str
    namespace: str | None
    service: str
    port: int
    cache_duration_ms: int
    failed_refetch_ms: int | None = None
    tls: bool = False
    dns_host: str | None = None


@dataclass(frozen=True)
class JwtProviderSettings:
    name: str
    issuer: str | None
    audiences: tuple[str, ...]
    jwks: str  # JSON Web Key Set, as given
    claim_to_headers: tuple[tuple[str, str], ...]  # (claim, header)
    recompute_route: bool
    from_headers: tuple[tuple[str, str], ...]  # (header, value prefix)
    from_cookies: tuple[str, ...]
    from_params: tuple[str, ...]
    remote: RemoteJwks | None = None


@dataclass(frozen=True)
class JwtSettings:
    providers: tuple[JwtProviderSettings, ...]
    optional: bool


@dataclass(frozen=True)
class JwtClaim:
    """A claim (`name`, dot-separated for a nested one) with one of `values`; with
    `string_array` the claim is a list holding one of them."""

    name: str
    values: tuple[str, ...]
    string_array: bool


@dataclass(frozen=True)
class JwtPrincipal:
    """A token verified by the policy's provider `provider` with every claim and scope given."""

    provider: str
    claims: tuple[JwtClaim, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class AuthzRule:
    """One rule: it matches when every part given matches (any of the CIDRs, every header
    with any of its values, the token's claims and scopes, any of the methods)."""

    allow: bool
    client_cidrs: tuple[str, ...]
    headers: tuple[tuple[str, tuple[str, ...]], ...]
    methods: tuple[str, ...]
    jwt: JwtPrincipal | None = None


@dataclass(frozen=True)
class AuthzSettings:
    rules: tuple[AuthzRule, ...]
    default_allow: bool


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or () if isinstance(v, str | int))


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value or () if isinstance(v, Mapping)] if isinstance(value, list) else []


def jwt(raw: Mapping[str, Any]) -> tuple[JwtSettings, list[str]]:
    """`spec.jwt` decoded, and what is wrong with it."""
    errors: list[str] = []
    providers = []
    names: set[str] = set()
    for i, p in enumerate(_list(raw.get("providers"))):
        path = f"spec.jwt.providers[{i}]"
        name = str(p.get("name") or "")
        if not name or name in names:
            errors.append(f"{path}.name: {name!r} is empty or used twice: give each provider a "
                          "name of its own")
        names.add(name)
        local = _map(p.get("localJWKS"))
        jwks = str(local.get("inline") or "")
        if local.get("type") == "ValueRef":
            ref = _map(local.get("valueRef"))
            errors.append(f"{path}.localJWKS.valueRef: ConfigMap {ref.get('name')!r} was not "
                          "found in the policy's namespace, or holds no value: create it with "
                          "the JSON Web Key Set under the key `jwks`")
        if local and (local.get("type") or "Inline") == "Inline":
            try:
                keys = json.loads(jwks)
            except ValueError as exc:
                keys = None
                errors.append(f"{path}.localJWKS.inline is not JSON ({exc}): give a JSON Web "
                              "Key Set, {\"keys\": [...]}")
            if keys is not None and not (isinstance(keys, dict)
                                         and isinstance(keys.get("keys"), list)):
                errors.append(f"{path}.localJWKS.inline is not a JSON Web Key Set: give an "
                              "object with a \"keys\" list")
        remote = None
        if isinstance(p.get("remoteJWKS"), Mapping):
            remote = _remote(p["remoteJWKS"], f"{path}.remoteJWKS", errors)
        elif not local:
            errors.append(f"{path}: set localJWKS or remoteJWKS: where the keys come from")
        extract = _map(p.get("extractFrom"))
        providers.append(JwtProviderSettings(
            name, str(p["issuer"]) if p.get("issuer") else None, _strings(p.get("audiences")),
            jwks,
            tuple((str(c.get("claim", "")), str(c.get("header", "")))
                  for c in _list(p.get("claimToHeaders"))),
            bool(p.get("recomputeRoute")),
            tuple((str(h.get("name", "")), str(h.get("valuePrefix") or ""))
                  for h in _list(extract.get("headers"))),
            _strings(extract.get("cookies")), _strings(extract.get("params")), remote))
    if not providers:
        errors.append("spec.jwt.providers is empty: list at least one provider")
    return JwtSettings(tuple(providers), bool(raw.get("optional"))), errors


def _remote(raw: Mapping[str, Any], path: str, errors: list[str]) -> RemoteJwks | None:
    uri = str(raw.get("uri") or "")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(f"{path}.uri: {uri!r} is not an http:// or https:// URI: give the URL "
                      "the JSON Web Key Set is served at")
        return None
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    cache = _duration(raw, "cacheDuration", "300s", path, errors)
    refetch = raw.get("failedRefetchDuration")
    failed_refetch = None if refetch is None else duration_ms(
        _duration(raw, "failedRefetchDuration", "1s", path, errors))
    refs = _list(raw.get("backendRefs"))
    if len(refs) > 1:
        errors.append(f"{path}.backendRefs: Propylon fetches JWKS from one backend: list one")
    if refs:
        ref = refs[0]
        if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service" \
                or not isinstance(ref.get("port"), int):
            errors.append(f"{path}.backendRefs[0]: name a core Service with its port")
            return None
        if ref.get("namespace"):
            errors.append(f"{path}.backendRefs[0].namespace: Propylon fetches JWKS from a "
                          "Service of the policy's namespace: remove it, or name the Service "
                          "by the URI's host")
            return None
        return RemoteJwks(uri, None, str(ref.get("name") or ""), ref["port"],
                          duration_ms(cache), failed_refetch, tls)
    service = service_of_host(parts.hostname)
    if service is not None:
        return RemoteJwks(uri, service[0], service[1], port, duration_ms(cache), failed_refetch,
                          tls)
    return RemoteJwks(uri, None, "", port, duration_ms(cache), failed_refetch, tls,
                      parts.hostname)


def _duration(raw: Mapping[str, Any], key: str, default: str, path: str,
              errors: list[str]) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not re.match(DURATION, value):
        errors.append(f"{path}.{key}: {value!r} is not a duration: write it as 300s or 5m")
        return default
    return value


def authorization(raw: Mapping[str, Any], providers: tuple[str, ...] = ()
                  ) -> tuple[AuthzSettings, list[str]]:
    """`spec.authorization` decoded, and what is wrong with it; `providers` are the names of
    the policy's `jwt` providers, the only ones a rule's `principal.jwt` can name."""
    errors: list[str] = []
    rules = []
    for i, r in enumerate(_list(raw.get("rules"))):
        path = f"spec.authorization.rules[{i}]"
        principal = _map(r.get("principal"))
        operation = _map(r.get("operation"))
        cidrs = []
        for cidr in _strings(principal.get("clientCIDRs")):
            try:
                cidrs.append(str(ipaddress.ip_network(cidr, strict=False)))
            except ValueError:
                errors.append(f"{path}.principal.clientCIDRs: {cidr!r} is not a CIDR: write it "
                              "as 192.168.1.0/24 or 2001:db8::/32")
        headers = tuple((str(h.get("name", "")), _strings(h.get("values")))
                        for h in _list(principal.get("headers")))
        methods = _strings(operation.get("methods"))
        for method in methods:
            if method not in METHODS:
                errors.append(f"{path}.operation.methods: {method!r} is not an HTTP method: use "
                              f"one of {', '.join(METHODS)}")
        principal_jwt = None
        if isinstance(principal.get("jwt"), Mapping):
            principal_jwt = _principal_jwt(principal["jwt"], f"{path}.principal.jwt",
                                           providers, errors)
        rules.append(AuthzRule(r.get("action") == "Allow", tuple(cidrs), headers, methods,
                               principal_jwt))
    return AuthzSettings(tuple(rules), raw.get("defaultAction") == "Allow"), errors


def _principal_jwt(raw: Mapping[str, Any], path: str, providers: tuple[str, ...],
                   errors: list[str]) -> JwtPrincipal:
    provider = str(raw.get("provider") or "")
    if provider not in providers:
        fix = f"name one of {', '.join(providers)}" if providers else "add spec.jwt"
        errors.append(f"{path}.provider: {provider!r} is not a provider of this policy's "
                      f"spec.jwt: {fix}, the provider verifying the token whose claims are "
                      "checked")
    claims = []
    for i, c in enumerate(_list(raw.get("claims"))):
        value_type = c.get("valueType") or "String"
        if value_type not in ("String", "StringArray"):
            errors.append(f"{path}.claims[{i}].valueType: {value_type!r} is not String or "
                          "StringArray")
        values = _strings(c.get("values"))
        if not c.get("name") or not values:
            errors.append(f"{path}.claims[{i}]: give the claim's name and at least one value")
        claims.append(JwtClaim(str(c.get("name") or ""), values, value_type == "StringArray"))
    scopes = _strings(raw.get("scopes"))
    if not claims and not scopes:
        errors.append(f"{path}: give claims or scopes the token must have")
    return JwtPrincipal(provider, tuple(claims), scopes)


def inline_jwks(spec: Mapping[str, Any], value: Callable[[str], str | None]) -> dict[str, Any]:
    """`spec` with each `localJWKS.valueRef` to a ConfigMap replaced by the JWKS `value(name)`
    gives (the value of its key `jwks`, else its first), when it gives one."""
    out = dict(spec)
    jwt_spec = dict(spec.get("jwt") or {})
    providers = []
    for p in jwt_spec.get("providers") or ():
        local = _map(_map(p).get("localJWKS"))
        ref = _map(local.get("valueRef"))
        if local.get("type") == "ValueRef" and ref.get("kind") == "ConfigMap" \
                and not ref.get("group"):
            found = value(str(ref.get("name") or ""))
            if found is not None:
                p = {**p, "localJWKS": {"type": "Inline", "inline": found}}
        providers.append(p)
    jwt_spec["providers"] = providers
    out["jwt"] = jwt_spec
    return out
