"""Policies on the HTTPS listeners of the Ingresses' hosts (`Policy` fragments aimed at
`"listener"`: the `auth-tls-*` client certificate check).

ingress-nginx reads such settings per server (host) from one Ingress; the conversion gives each
TLS host its own HTTPS listener, so `listener_policies(convs, plan, gateway_fragments)` makes one
ClientTrafficPolicy per listener, `<gateway>-<listener>`, targeting it (`sectionName`), from the
oldest Ingress of the host that has fragments (a younger one whose fragments differ is reported
as differing), merged over the Gateway's own ClientTrafficPolicy fragments (a policy on a
listener replaces the Gateway's there, in Envoy Gateway). A Secret it names in another namespace
than the Gateway's gets a ReferenceGrant there. A host without HTTPS listener is reported: its
requests come over plain HTTP only, where neither ingress-nginx nor Envoy checks certificates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from propylon.api.kinds import GATEWAY_GROUP
from propylon.ingress.effects import Policy
from propylon.ingress.gateway import GatewayPlan
from propylon.ingress.hosts import Converted
from propylon.ingress.manifests import EG_GROUP, deep_merge, gateway_api, manifest
from propylon.ingress.model import Json
from propylon.ingress.names import child_name
from propylon.ingress.report import Outcome, ReportEntry

KIND = "ClientTrafficPolicy"


def listener_policies(convs: Iterable[Converted], plan: GatewayPlan,
                      gateway_fragments: Iterable[Policy],
                      ) -> tuple[list[dict[str, Any]], list[ReportEntry]]:
    """The listeners' policies and ReferenceGrants, and the report entries (module docstring)."""
    chosen: dict[str, tuple[str, Json]] = {}  # listener -> (Ingress key, spec)
    entries: list[ReportEntry] = []
    for conv in convs:
        spec: Json = {}
        for fragment in conv.effects:
            if isinstance(fragment, Policy) and fragment.target == "listener":
                spec = deep_merge(spec, fragment.spec)
        if not spec:
            continue
        for host in conv.ingress.hosts:
            listeners = plan.parent(host).https if host else ()
            if not listeners:
                entries.append(ReportEntry(conv.ingress.key, "spec.tls", Outcome.DIFFERS, (
                    f"host {host or '*'} has no HTTPS listener for its client certificate check (no Ingress names it under "
                    "spec.tls): it is served over plain HTTP only, where client certificates "
                    "are not checked; add it to spec.tls (auth-tls-secret)")))
            for listener in listeners:
                owner = chosen.setdefault(listener, (conv.ingress.key, spec))
                if owner[1] != spec:
                    entries.append(ReportEntry(conv.ingress.key, "spec.rules", Outcome.DIFFERS, (
                        f"host {host}'s client certificates are checked as Ingress {owner[0]} "
                        "(older) says, not its auth-tls-* annotations: ingress-nginx also takes "
                        "them from one Ingress of the host")))
    base: Json = {}
    for fragment in gateway_fragments:
        if fragment.kind == KIND:
            base = deep_merge(base, fragment.spec)
    out: list[dict[str, Any]] = []
    grants: dict[str, set[str]] = {}
    for listener, (_, spec) in sorted(chosen.items()):
        ref = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": plan.name,
               "sectionName": listener}
        out.append(manifest(KIND, EG_GROUP, plan.namespace, child_name(plan.name, listener),
                            {**deep_merge(base, spec), "targetRefs": [ref]}))
        for ca in spec["tls"]["clientValidation"]["caCertificateRefs"]:
            if ca["namespace"] != plan.namespace:
                grants.setdefault(ca["namespace"], set()).add(ca["name"])
    out += [gateway_api("ReferenceGrant", ns, child_name(plan.name, "client-cas", plan.namespace),
                        {"from": [{"group": EG_GROUP, "kind": KIND, "namespace": plan.namespace}],
                         "to": [{"group": "", "kind": "Secret", "name": s}
                                for s in sorted(names)]})
            for ns, names in sorted(grants.items())]
    return out, entries
