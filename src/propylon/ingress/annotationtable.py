"""The README's table of ingress-nginx's annotations: Propylon's status for each, found by
running the conversion, so the table cannot drift from the registry's converters.

`SAMPLES` gives, for annotations of the registry, an Ingress's annotations that use one (with
the companions it needs, e.g. `enable-cors` for `cors-*`; the Secrets `users` and
`backend-ca`, the ConfigMap `headers` and the Service `web` they name are given too, and the
ingress-nginx ConfigMap settings of `CONFIGS`, e.g. snippets allowed); any other annotation of
the registry is sampled as `"true"` alone. `statuses()` converts the sample
of every annotation of the registry and reads its report entry: its outcome (converted,
differs, refused) and note. `render(names, found)` writes the Markdown table of every
annotation in `names` (ANNOTATIONS.md's order, with its one-line meaning, and the current name
of the renamed ones, `ALIASES`) and the counts, against ingress2gateway v1.2 (46 annotations
recognized, 38 converted); an annotation without a status is "not converted yet".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from propylon.ingress.convert import MIGRATE, convert
from propylon.ingress.model import PREFIX, Json
from propylon.ingress.registry import CONVERTERS
from propylon.ingress.report import Outcome

INGRESS2GATEWAY = (38, 46)
_SHA_BAR = "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00="  # the password "bar"
_BASIC = {"auth-type": "basic", "auth-secret": "users"}
_COOKIE = {"affinity": "cookie"}
_CORS = {"enable-cors": "true"}
_AUTH_URL = {"auth-url": "http://auth.default.svc/check"}
_CANARY = {"canary": "true"}
_TLS = {"backend-protocol": "HTTPS"}
_NEEDED: tuple[Json, ...] = (
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "users", "namespace": "default"},
     "data": {"auth": base64.b64encode(f"foo:{_SHA_BAR}\n".encode()).decode()}},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "backend-ca", "namespace": "default"},
     "data": {"ca.crt": base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "headers",
                                                          "namespace": "default"},
     "data": {"X-Team": "web"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"ports": [{"name": "http", "port": 80}]}})
SAMPLES: dict[str, dict[str, str]] = {
    "use-regex": {"use-regex": "true"},
    "rewrite-target": {"rewrite-target": "/"},
    "app-root": {"app-root": "/app"},
    "permanent-redirect": {"permanent-redirect": "https://example.com/"},
    "permanent-redirect-code": {"permanent-redirect": "https://example.com/",
                                "permanent-redirect-code": "308"},
    "temporal-redirect": {"temporal-redirect": "https://example.com/"},
    "temporal-redirect-code": {"temporal-redirect": "https://example.com/",
                               "temporal-redirect-code": "307"},
    "ssl-redirect": {"ssl-redirect": "false"},
    "force-ssl-redirect": {"force-ssl-redirect": "true"},
    "from-to-www-redirect": {"from-to-www-redirect": "true"},
    "preserve-trailing-slash": {"force-ssl-redirect": "true", "preserve-trailing-slash": "true"},
    "upstream-vhost": {"upstream-vhost": "internal.example"},
    "x-forwarded-prefix": {"x-forwarded-prefix": "/app"},
    "backend-protocol": {"backend-protocol": "GRPC"},
    "service-upstream": {"service-upstream": "true"},
    "proxy-ssl-secret": {**_TLS, "proxy-ssl-secret": "default/backend-ca"},
    "proxy-ssl-name": {**_TLS, "proxy-ssl-name": "backend.internal"},
    "proxy-ssl-verify": {**_TLS, "proxy-ssl-verify": "on"},
    "proxy-ssl-server-name": {**_TLS, "proxy-ssl-server-name": "on"},
    "proxy-ssl-protocols": {**_TLS, "proxy-ssl-protocols": "TLSv1.2"},
    "proxy-ssl-ciphers": {**_TLS, "proxy-ssl-ciphers": "HIGH:!aNULL:!MD5"},
    "proxy-ssl-verify-depth": {**_TLS, "proxy-ssl-verify-depth": "2"},
    "server-alias": {"server-alias": "www.web.example"},
    "mirror-target": {"mirror-target": "http://shadow.default.svc/$request_uri"},
    "mirror-host": {"mirror-target": "http://shadow.default.svc/$request_uri",
                    "mirror-host": "shadow.example"},
    "mirror-request-body": {"mirror-target": "http://shadow.default.svc/$request_uri",
                            "mirror-request-body": "on"},
    "canary": _CANARY,
    "canary-by-header": {**_CANARY, "canary-by-header": "X-Canary"},
    "canary-by-header-value": {**_CANARY, "canary-by-header": "X-Canary",
                               "canary-by-header-value": "yes"},
    "canary-by-header-pattern": {**_CANARY, "canary-by-header": "X-Canary",
                                 "canary-by-header-pattern": "^y"},
    "canary-by-cookie": {**_CANARY, "canary-by-cookie": "canary"},
    "canary-weight": {**_CANARY, "canary-weight": "10"},
    "canary-weight-total": {**_CANARY, "canary-weight": "10", "canary-weight-total": "1000"},
    "enable-cors": _CORS,
    "cors-allow-origin": {**_CORS, "cors-allow-origin": "https://a.example, https://*.b.example"},
    "cors-allow-methods": {**_CORS, "cors-allow-methods": "GET, POST"},
    "cors-allow-headers": {**_CORS, "cors-allow-headers": "X-Token"},
    "cors-expose-headers": {**_CORS, "cors-expose-headers": "X-Id"},
    "cors-allow-credentials": {**_CORS, "cors-allow-credentials": "false"},
    "cors-max-age": {**_CORS, "cors-max-age": "600"},
    "auth-type": _BASIC,
    "auth-secret": _BASIC,
    "auth-secret-type": {**_BASIC, "auth-secret-type": "auth-file"},
    "auth-realm": {**_BASIC, "auth-realm": "staff"},
    "auth-url": _AUTH_URL,
    "auth-response-headers": {**_AUTH_URL, "auth-response-headers": "X-User"},
    "auth-method": {**_AUTH_URL, "auth-method": "POST"},
    "auth-signin": {**_AUTH_URL, "auth-signin": "https://login.example/start"},
    "auth-signin-redirect-param": {**_AUTH_URL, "auth-signin-redirect-param": "next"},
    "auth-request-redirect": {**_AUTH_URL, "auth-request-redirect": "https://app.example/"},
    "auth-proxy-set-headers": {**_AUTH_URL, "auth-proxy-set-headers": "default/headers"},
    "auth-always-set-cookie": {**_AUTH_URL, "auth-always-set-cookie": "true"},
    "auth-cache-key": {**_AUTH_URL, "auth-cache-key": "$remote_user"},
    "auth-cache-duration": {**_AUTH_URL, "auth-cache-duration": "200 202 10m"},
    "auth-keepalive": {**_AUTH_URL, "auth-keepalive": "10"},
    "auth-keepalive-requests": {**_AUTH_URL, "auth-keepalive-requests": "100"},
    "auth-keepalive-timeout": {**_AUTH_URL, "auth-keepalive-timeout": "60"},
    "auth-keepalive-share-vars": {**_AUTH_URL, "auth-keepalive-share-vars": "true"},
    "auth-snippet": {**_AUTH_URL, "auth-snippet": "proxy_set_header A b;"},
    "whitelist-source-range": {"whitelist-source-range": "10.0.0.0/8"},
    "allowlist-source-range": {"allowlist-source-range": "10.0.0.0/8"},
    "denylist-source-range": {"denylist-source-range": "10.0.0.0/8"},
    "limit-rps": {"limit-rps": "10"},
    "limit-rpm": {"limit-rpm": "600"},
    "limit-burst-multiplier": {"limit-rps": "10", "limit-burst-multiplier": "3"},
    "limit-connections": {"limit-connections": "10"},
    "limit-allowlist": {"limit-rps": "10", "limit-allowlist": "10.0.0.0/8"},
    "limit-whitelist": {"limit-rps": "10", "limit-whitelist": "10.0.0.0/8"},
    "limit-rate": {"limit-rate": "100"},
    "limit-rate-after": {"limit-rate-after": "1000"},
    "proxy-connect-timeout": {"proxy-connect-timeout": "10"},
    "proxy-read-timeout": {"proxy-read-timeout": "120"},
    "proxy-send-timeout": {"proxy-send-timeout": "120"},
    "proxy-next-upstream": {"proxy-next-upstream": "error timeout http_502"},
    "proxy-next-upstream-tries": {"proxy-next-upstream-tries": "2"},
    "proxy-next-upstream-timeout": {"proxy-next-upstream-timeout": "10"},
    "proxy-http-version": {"proxy-http-version": "1.1"},
    "proxy-body-size": {"proxy-body-size": "8m"},
    "proxy-buffering": {"proxy-buffering": "on"},
    "proxy-request-buffering": {"proxy-request-buffering": "off"},
    "proxy-buffer-size": {"proxy-buffer-size": "8k"},
    "proxy-buffers-number": {"proxy-buffers-number": "4"},
    "proxy-busy-buffers-size": {"proxy-busy-buffers-size": "16k"},
    "proxy-max-temp-file-size": {"proxy-max-temp-file-size": "1024m"},
    "client-body-buffer-size": {"client-body-buffer-size": "1m"},
    "proxy-cookie-domain": {"proxy-cookie-domain": "internal example.com"},
    "proxy-cookie-path": {"proxy-cookie-path": "/app /"},
    "proxy-redirect-from": {"proxy-redirect-from": "http://internal/"},
    "proxy-redirect-to": {"proxy-redirect-to": "https://example.com/"},
    "custom-headers": {"custom-headers": "default/headers"},
    "affinity": _COOKIE,
    "affinity-mode": {**_COOKIE, "affinity-mode": "balanced"},
    "session-cookie-name": {**_COOKIE, "session-cookie-name": "route"},
    "session-cookie-path": {**_COOKIE, "session-cookie-path": "/app"},
    "session-cookie-domain": {**_COOKIE, "session-cookie-domain": "example.com"},
    "session-cookie-secure": {**_COOKIE, "session-cookie-secure": "true"},
    "session-cookie-samesite": {**_COOKIE, "session-cookie-samesite": "Lax"},
    "session-cookie-max-age": {**_COOKIE, "session-cookie-max-age": "3600"},
    "session-cookie-expires": {**_COOKIE, "session-cookie-expires": "3600"},
    "session-cookie-change-on-failure": {**_COOKIE, "session-cookie-change-on-failure": "true"},
    "session-cookie-conditional-samesite-none": {
        **_COOKIE, "session-cookie-conditional-samesite-none": "true"},
    "affinity-canary-behavior": {**_COOKIE, "affinity-canary-behavior": "sticky"},
    "connection-proxy-header": {"connection-proxy-header": "keep-alive"},
    "load-balance": {"load-balance": "round_robin"},
    "upstream-hash-by": {"upstream-hash-by": "$remote_addr"},
    "upstream-hash-by-subset": {"upstream-hash-by": "$remote_addr",
                                "upstream-hash-by-subset": "true"},
    "upstream-hash-by-subset-size": {"upstream-hash-by": "$remote_addr",
                                     "upstream-hash-by-subset-size": "3"},
    "configuration-snippet": {"configuration-snippet":
                              "more_set_headers 'A: b'; proxy_set_header X-Host $host;"},
    "server-snippet": {"server-snippet": "more_set_headers 'A: b';"},
    "stream-snippet": {"stream-snippet": "server { listen 8000; }"},
    "modsecurity-snippet": {"modsecurity-snippet": "SecRuleEngine On"},
    "enable-modsecurity": {"enable-modsecurity": "true"},
    "enable-owasp-core-rules": {"enable-owasp-core-rules": "true"},
    "modsecurity-transaction-id": {"modsecurity-transaction-id": "$request_id"},
    "custom-http-errors": {"custom-http-errors": "404,503"},
    "auth-tls-secret": {"auth-tls-secret": "default/ca"},
    "auth-tls-verify-client": {"auth-tls-secret": "default/ca", "auth-tls-verify-client": "on"},
    "auth-tls-verify-depth": {"auth-tls-secret": "default/ca", "auth-tls-verify-depth": "2"},
    "auth-tls-error-page": {"auth-tls-secret": "default/ca",
                            "auth-tls-error-page": "https://example.com/error"},
    "auth-tls-pass-certificate-to-upstream": {"auth-tls-secret": "default/ca",
                                              "auth-tls-pass-certificate-to-upstream": "true"},
    "auth-tls-match-cn": {"auth-tls-secret": "default/ca", "auth-tls-match-cn": "CN=client"},
    "ssl-ciphers": {"ssl-ciphers": "ECDHE-RSA-AES128-GCM-SHA256"},
    "ssl-prefer-server-ciphers": {"ssl-prefer-server-ciphers": "true"},
    "default-backend": {"default-backend": "errors"},
    "enable-global-auth": {"enable-global-auth": "false"},
    "satisfy": {"satisfy": "any"},
    "http2-push-preload": {"http2-push-preload": "true"},
    "enable-access-log": {"enable-access-log": "false"},
    "enable-rewrite-log": {"enable-rewrite-log": "true"},
    "enable-opentelemetry": {"enable-opentelemetry": "true"},
    "opentelemetry-trust-incoming-span": {"opentelemetry-trust-incoming-span": "false"},
}
# The ingress-nginx ConfigMap a sample needs besides the defaults: snippets only when allowed
CONFIGS: dict[str, dict[str, str]] = {
    name: {"allow-snippet-annotations": "true", "annotations-risk-level": "Critical"}
    for name in ("configuration-snippet", "server-snippet")}
# The current names of documented annotations, read by ingress-nginx besides the old ones.
ALIASES = {"whitelist-source-range": "allowlist-source-range",
           "limit-whitelist": "limit-allowlist"}
_SHOWN = {Outcome.CONVERTED: "converted", Outcome.DIFFERS: "differs",
          Outcome.REFUSED: "not convertible"}


@dataclass(frozen=True)
class Status:
    outcome: Outcome
    message: str


def statuses() -> dict[str, Status]:
    """The status of each annotation of the registry: the report entry of its sample Ingress
    (with the Secret, ConfigMap and Service the samples name) converted as `propylon migrate`
    converts."""
    out = {}
    for name in sorted(CONVERTERS):
        sample = SAMPLES.get(name, {name: "true"})
        ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": "web", "namespace": "default",
                                "annotations": {PREFIX + k: v for k, v in sample.items()}},
                   "spec": {"rules": [{"host": "web.example", "http": {"paths": [{
                       "path": "/", "pathType": "Prefix", "backend": {"service": {
                           "name": "web", "port": {"number": 80}}}}]}}]}}
        options = replace(MIGRATE, config=CONFIGS.get(name, {}))
        report = convert((*_NEEDED, ingress), options).report
        found = [e for e in report if e.subject == PREFIX + name]
        if len(found) != 1:
            raise ValueError(f"{name}: {len(found)} report entries for it in its sample, not 1")
        out[name] = Status(found[0].outcome, found[0].note)
    return out


def render(names: Sequence[tuple[str, str]], found: Mapping[str, Status]) -> str:
    """The Markdown table of `names` ((annotation, meaning), in order) with their status,
    after a line of counts, and before the list of those not convertible."""
    counts = {outcome: sum(1 for name, _ in names if name in found
                           and found[name].outcome == outcome) for outcome in _SHOWN}
    converted = counts[Outcome.CONVERTED] + counts[Outcome.DIFFERS]
    done, recognized = INGRESS2GATEWAY
    lines = [f"**{converted} of the {len(names)} annotations are converted** "
             f"({counts[Outcome.CONVERTED]} exactly, {counts[Outcome.DIFFERS]} with a difference the table "
             f"says), {counts[Outcome.REFUSED]} are not convertible (with the reason) and "
             f"{len(names) - converted - counts[Outcome.REFUSED]} are not converted yet; "
             f"ingress2gateway v1.2 converts {done} of the {recognized} it recognizes.", "",
             "| annotation | meaning | Propylon | how, or why not |", "|---|---|---|---|"]
    for name, meaning in names:
        status = found.get(name)
        shown = _SHOWN[status.outcome] if status else "not converted yet"
        why = status.message.replace("|", "\\|") if status else ""
        alias = f" (and its current name `{ALIASES[name]}`)" if name in ALIASES else ""
        lines.append(f"| `{name}`{alias} | {meaning} | {shown} | {why} |")
    refused = [name for name, _ in names if name in found
               and found[name].outcome is Outcome.REFUSED]
    lines += ["", f"Not convertible ({len(refused)}, each with its reason in the table): "
              + ", ".join(f"`{name}`" for name in refused) + "."]
    return "\n".join(lines) + "\n"
