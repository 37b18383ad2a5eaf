"""One Gateway per IngressClass, ingress-nginx's single controller address.

`ingress-<class>` in `Options.gateway_namespace` has listener `http` (port 80, any host) and one
HTTPS listener per TLS host (`https-<host>`, port 443, terminating with the Secret of the oldest
Ingress naming that host; a Secret of another type holding tls.crt and tls.key, which
ingress-nginx also serves, through a `kubernetes.io/tls` copy `<name>-tls` emitted with the
Gateway), or a TLS Passthrough listener (`tls-<host>`) for a host of an Ingress
with `ssl-passthrough`; routes from every namespace may attach. A Secret in another namespace
than the Gateway's gets a ReferenceGrant in its own namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.ingress.hosts import Converted, covers, tls_hosts
from propylon.ingress.manifests import gateway_api
from propylon.ingress.model import Json
from propylon.ingress.names import child_name, host_label
from propylon.ingress.report import Outcome, ReportEntry
from propylon.ingress.routes import Parent

TLS_TYPE = "kubernetes.io/tls"


@dataclass(frozen=True)
class GatewayPlan:
    namespace: str
    name: str
    https: tuple[tuple[str, str], ...]          # (TLS host, listener name)
    manifests: tuple[dict[str, Any], ...]       # the Gateway and ReferenceGrants
    entries: tuple[ReportEntry, ...]
    passthrough: tuple[tuple[str, str], ...] = ()  # (host, TLS listener) of ssl-passthrough

    def parent(self, host: str) -> Parent:
        return Parent(self.namespace, self.name,
                      tuple(name for tls_host, name in self.https if covers(tls_host, host)))


def plan(class_name: str, convs: tuple[Converted, ...], namespace: str, name: str,
         gateway_class: str, secrets: Mapping[tuple[str, str], Json]) -> GatewayPlan:
    listeners: list[dict[str, Any]] = [{"name": "http", "protocol": "HTTP", "port": 80,
                                        "allowedRoutes": {"namespaces": {"from": "All"}}}]
    https: list[tuple[str, str]] = []
    grants: dict[str, set[str]] = {}
    entries: list[ReportEntry] = []
    chosen: dict[str, tuple[str, str]] = {}
    copies: list[dict[str, Any]] = []  # kubernetes.io/tls copies of Opaque TLS Secrets
    passthrough = [(host, child_name("tls", host_label(host))) for host in dict.fromkeys(
        h for c in convs if c.class_name == class_name and not c.canary
        and c.settings.get("ssl-passthrough") == "true" for h in c.ingress.hosts if h)]
    listeners += [{"name": listener, "protocol": "TLS", "port": 443, "hostname": host,
                   "tls": {"mode": "Passthrough"},
                   "allowedRoutes": {"namespaces": {"from": "All"}}}
                  for host, listener in passthrough]
    for conv in convs:
        if conv.class_name != class_name or conv.canary:
            continue
        for host, tls in tls_hosts(conv.ingress):
            if any(h == host for h, _ in passthrough):
                entries.append(ReportEntry(conv.ingress.key, tls.at, Outcome.CONVERTED,
                                           f"{host} is passed through (ssl-passthrough): its "
                                           "backend terminates TLS, as in ingress-nginx"))
                continue
            secret = (conv.ingress.namespace, tls.secret)
            if host in chosen:
                if chosen[host] != secret:
                    entries.append(ReportEntry(conv.ingress.key, tls.at, Outcome.DIFFERS,
                                               f"{host} is served with Secret "
                                               f"{'/'.join(chosen[host])} of an older Ingress, "
                                               "as ingress-nginx does"))
                continue
            chosen[host] = secret
            given = secrets.get(secret)
            served_name = tls.secret
            if given is not None and given.get("type") != TLS_TYPE:
                copy = tls_copy(given)
                if copy is None:
                    entries.append(ReportEntry(
                        conv.ingress.key, tls.at, Outcome.DIFFERS,
                        f"Secret {'/'.join(secret)} is of type {given.get('type') or 'Opaque'} "
                        f"without tls.crt and tls.key: Gateway listeners take {TLS_TYPE} "
                        "Secrets: recreate it with `kubectl create secret tls`"))
                else:
                    served_name = copy["metadata"]["name"]
                    copies.append(copy)
                    entries.append(ReportEntry(
                        conv.ingress.key, tls.at, Outcome.CONVERTED,
                        f"Secret {'/'.join(secret)} is of type {given.get('type') or 'Opaque'} "
                        f"(ingress-nginx takes any with tls.crt and tls.key; Gateway listeners "
                        f"take {TLS_TYPE} Secrets): its tls.crt and tls.key are served from the "
                        f"{TLS_TYPE} copy {secret[0]}/{served_name}, which holds the private "
                        f"key (`propylon migrate` writes it with mode 0600; renew the copy when "
                        f"{tls.secret} changes)"))
            listener = child_name("https", host_label(host))
            https.append((host, listener))
            ref: dict[str, Any] = {"kind": "Secret", "name": served_name}
            if secret[0] != namespace:
                ref["namespace"] = secret[0]
                grants.setdefault(secret[0], set()).add(served_name)
            listeners.append({"name": listener, "protocol": "HTTPS", "port": 443,
                              "hostname": host,
                              "tls": {"mode": "Terminate", "certificateRefs": [ref]},
                              "allowedRoutes": {"namespaces": {"from": "All"}}})
    gateway = gateway_api("Gateway", namespace, name,
                          {"gatewayClassName": gateway_class, "listeners": listeners})
    refgrants = [gateway_api("ReferenceGrant", ns, child_name(name, "secrets", namespace), {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                  "namespace": namespace}],
        "to": [{"group": "", "kind": "Secret", "name": s} for s in sorted(names)]})
        for ns, names in sorted(grants.items())]
    return GatewayPlan(namespace, name, tuple(https), (*copies, gateway, *refgrants),
                       tuple(entries), tuple(passthrough))


def tls_copy(secret: Json) -> dict[str, Any] | None:
    """A `kubernetes.io/tls` copy (`<name>-tls`) of a Secret of another type holding `tls.crt`
    and `tls.key` (in `data` or `stringData`), as ingress-nginx serves any such Secret; None
    when it lacks either."""
    meta = secret.get("metadata") or {}
    for field in ("data", "stringData"):
        values = secret.get(field) or {}
        if values.get("tls.crt") and values.get("tls.key"):
            return {"apiVersion": "v1", "kind": "Secret", "type": TLS_TYPE,
                    "metadata": {"namespace": str(meta.get("namespace") or "default"),
                                 "name": child_name(str(meta.get("name")), "tls")},
                    field: {k: values[k] for k in ("tls.crt", "tls.key")}}
    return None
