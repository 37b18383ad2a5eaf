"""`mirror-target`, `mirror-host`, `mirror-request-body`: copies of the requests sent to another
backend, answers ignored: a RequestMirror filter. Its backend must be a Service, so the target
URL's host must be a Service's cluster name (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`) and
its path nginx's `$request_uri` (Envoy mirrors the request's own path)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from propylon.ingress.effects import (
    Context,
    Converted,
    Converter,
    Effect,
    Filter,
    Manifest,
    converted,
    differs,
    refused,
)
from propylon.ingress.manifests import gateway_api
from propylon.ingress.names import child_name

_SERVICE_HOST = re.compile(r"^([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?$")
_PORTS = {"http": 80, "https": 443}


def mirror_target(ctx: Context, value: str) -> Converted:
    parts = urlsplit(value.replace("$request_uri", ""))
    match = _SERVICE_HOST.match(parts.hostname or "")
    if parts.scheme not in _PORTS or match is None:
        return refused(f'"{value}" is not http(s)://<Service>[.<namespace>[.svc]]: the Gateway '
                       "API mirrors to a Service; create a Service (an ExternalName or one "
                       "without selector) for the target and name it here")
    if parts.path not in ("", "/") or parts.query:
        return refused(f'"{value}" changes the path: Envoy mirrors the request with its own path; '
                       "write the target as <scheme>://<host>$request_uri")
    ing = ctx.ingress
    service, namespace = match.group(1), match.group(2) or ing.namespace
    ref = {"name": service, "port": parts.port or _PORTS[parts.scheme],
           **({"namespace": namespace} if namespace != ing.namespace else {})}
    effects: list[Effect] = [Filter({"type": "RequestMirror", "requestMirror": {"backendRef": ref}})]
    if namespace != ing.namespace:
        effects.append(Manifest(gateway_api(
            "ReferenceGrant", namespace, child_name(ing.namespace, ing.name, "mirror"), {
                "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                          "namespace": ing.namespace}],
                "to": [{"group": "", "kind": "Service", "name": service}]})))
    if parts.scheme == "https":
        return differs("the mirror is sent over plain HTTP unless a BackendTLSPolicy names "
                       f"Service {namespace}/{service}", *effects)
    return converted(*effects)


def mirror_request_body(ctx: Context, value: str) -> Converted:
    if value.strip().lower() == "off":
        return differs("Envoy mirrors the request body too")
    return converted()


def mirror_host(ctx: Context, value: str) -> Converted:
    return differs("Envoy sends the mirrored request with the request's own Host (with "
                   "\"-shadow\" appended), not this one")


CONVERTERS: Mapping[str, Converter] = {
    "mirror-target": mirror_target,
    "mirror-request-body": mirror_request_body,
    "mirror-host": mirror_host,
}
