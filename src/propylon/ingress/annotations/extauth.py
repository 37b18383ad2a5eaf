"""`auth-url` and its companions: a SecurityPolicy `extAuth` (HTTP).

ingress-nginx asks the service at `auth-url` (nginx `auth_request`) before each request, with
the request's headers and no body: a 2xx answer lets the request through, with the headers
named in `auth-response-headers` copied onto it; 401 and 403 are returned to the client; other
answers become 500. Envoy's HTTP ext_authz does the same with `pathOverride` (the auth
request's whole path is the URL's, as in nginx) and `headersToBackend`. The URL's host is a
Service (`name.namespace.svc[.cluster.local]`, or `name` in the Ingress's namespace), or an
address, for which a Service without selector and its EndpointSlice are made. A name outside
the cluster would need an Envoy Gateway Backend in `extAuth`, which Propylon does not support
yet: refused, with that reason. A refused `auth-url` (that one, a URL with nginx variables, no
http(s) URL) answers every request 503, so the location is never served unauthenticated.
What differs: Envoy answers 403, not 500, when the service fails (`statusOnError` would make
it 500 for every failure, including an unreachable service, where nginx answers 500 too: so it
is set to 500).
Not convertible: `auth-method` (Envoy sends the request's own method), `auth-signin` /
`auth-signin-redirect-param` (a redirect to a login page on 401), `auth-request-redirect` and
`auth-proxy-set-headers` (extra headers to the service), `auth-always-set-cookie` (the
service's Set-Cookie to the client). Ignored, reported as such: `auth-cache-*` (Envoy asks the
service every time) and `auth-keepalive*` (Envoy pools its connections by itself).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from propylon.ingress.annotations.policyparts import (
    CLOSED,
    CONVERTED,
    DIFFERS,
    REFUSED,
    Made,
    Note,
    answer_all,
    family,
)
from propylon.ingress.annotations.policyvalues import items
from propylon.ingress.effects import Context, Manifest, Policy

REFUSALS = {
    "auth-method": "not convertible: Envoy sends the auth request with the request's own "
                   "method",
    "auth-signin": "not convertible: Envoy Gateway cannot redirect a refused request to a "
                   "login page: let the auth service answer the redirect itself",
    "auth-signin-redirect-param": "not convertible: Envoy Gateway cannot redirect a refused "
                                  "request to a login page (auth-signin)",
    "auth-request-redirect": "not convertible: Envoy Gateway cannot add a fixed header to "
                             "the auth request",
    "auth-proxy-set-headers": "not convertible: Envoy Gateway cannot add headers to the auth "
                              "request",
    "auth-always-set-cookie": "not convertible: Envoy Gateway does not pass the auth "
                              "service's Set-Cookie to the client",
}
IGNORED = {
    "auth-cache-key": "ignored: Envoy asks the auth service on every request (no cache)",
    "auth-cache-duration": "ignored: Envoy asks the auth service on every request (no cache)",
    "auth-keepalive": "ignored: Envoy keeps its connections to the auth service by itself",
    "auth-keepalive-requests": "ignored: Envoy keeps its connections to the auth service by "
                               "itself",
    "auth-keepalive-timeout": "ignored: Envoy keeps its connections to the auth service by "
                              "itself",
    "auth-keepalive-share-vars": "ignored: Envoy keeps its connections to the auth service "
                                 "by itself",
}
ANNOTATIONS = ("auth-url", "auth-response-headers", *REFUSALS, *IGNORED)
_SERVICE = re.compile(r"^([a-z0-9-]+)\.([a-z0-9-]+)(\.svc(\.cluster\.local)?)?$")


def made(ctx: Context) -> Made:
    """External authentication of an Ingress."""
    annotations, namespace, ingress = ctx.annotations, ctx.ingress.namespace, ctx.ingress.name
    notes = [Note(name, REFUSED, message) for name, message in REFUSALS.items()
             if name in annotations]
    notes.extend(Note(name, DIFFERS, message) for name, message in IGNORED.items()
                 if name in annotations)
    if "auth-url" not in annotations:
        if "auth-response-headers" in annotations:
            notes.append(Note("auth-response-headers", CONVERTED, "no effect without auth-url, "
                              "as in ingress-nginx"))
        return Made(notes=tuple(notes))
    if "$" in annotations["auth-url"]:
        notes.append(Note("auth-url", REFUSED, f"not convertible: {annotations['auth-url']!r} "
                          "uses nginx variables, which Envoy does not expand: write the "
                          "service's URL (http://service.namespace.svc/path)" + CLOSED))
        return Made((answer_all(503),), tuple(notes))
    url = urlsplit(annotations["auth-url"].strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        notes.append(Note("auth-url", REFUSED, f"{annotations['auth-url']!r} is not an http(s) "
                          "URL: write http://service.namespace.svc/path" + CLOSED))
        return Made((answer_all(503),), tuple(notes))
    port = url.port or (443 if url.scheme == "https" else 80)
    ref, objects = _backend(url.hostname, port, namespace, ingress)
    if ref is None:
        notes.append(Note("auth-url", REFUSED, f"not convertible yet: {url.hostname} is outside "
                          "the cluster, which needs an Envoy Gateway Backend in extAuth, not "
                          "supported by Propylon yet: put the service behind a Service" + CLOSED))
        return Made((answer_all(503),), tuple(notes))
    http: dict[str, Any] = {"backendRefs": [ref], "pathOverride": url.path or "/"}
    headers = items(annotations.get("auth-response-headers", ""))
    if headers:
        http["headersToBackend"] = list(headers)
        notes.append(Note("auth-response-headers", CONVERTED,
                          "SecurityPolicy extAuth.http.headersToBackend"))
    how = (f"SecurityPolicy extAuth (HTTP) to {ref['kind']} {ref['name']}"
           + (" (a Service without selector and its EndpointSlice made for the URL's "
              "address)" if objects else ""))
    if url.scheme == "https":
        how += "; differs: the connection to the service is plain HTTP (add a " \
               "BackendTLSPolicy for it)"
    if url.query:
        how += "; the URL's query is not sent"
    notes.append(Note("auth-url", DIFFERS if url.scheme == "https" or url.query else CONVERTED,
                      how))
    spec = {"extAuth": {"http": http, "statusOnError": 500}}
    return Made((Policy("SecurityPolicy", spec), *objects), tuple(notes))


def _backend(host: str, port: int, namespace: str,
             ingress: str) -> tuple[dict[str, Any] | None, tuple[Manifest, ...]]:
    """The backendRef of the auth service, and the objects made for it: a Service without
    selector and its EndpointSlice for an address. None for a name outside the cluster."""
    if _is_address(host):
        name = f"{ingress}-auth"
        service = {"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": name, "namespace": namespace},
                   "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}}
        family = "IPv6" if ":" in host else "IPv4"
        endpoints = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": name, "namespace": namespace,
                                  "labels": {"kubernetes.io/service-name": name}},
                     "addressType": family,
                     "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
                     "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
        return ({"group": "", "kind": "Service", "name": name, "port": port},
                (Manifest(service), Manifest(endpoints)))
    found = _SERVICE.match(host)
    if found is not None:
        ref: dict[str, Any] = {"group": "", "kind": "Service", "name": found[1], "port": port}
        if found[2] != namespace:
            ref["namespace"] = found[2]
        return ref, ()
    if "." not in host:
        return {"group": "", "kind": "Service", "name": host, "port": port}, ()
    return None, ()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


CONVERTERS = family(ANNOTATIONS, made)
