"""The conversion recipe: raw manifests in, Gateway API objects, policies and a report out.

1. sort the inputs by kind (Ingress, IngressClass, the ingress-nginx ConfigMap, Services,
   Secrets) and decode the Ingresses (`model`);
2. keep the Ingresses of our classes (`classes.select`);
3. run each annotation's converter (`registry.CONVERTERS`), one report entry per annotation;
4. merge each host's Ingresses as ingress-nginx does (`hosts`);
5. per class, plan its Gateway (`gateway.plan`);
6. per Ingress and host, its routes (`routes.host_routes`), the objects its converters emitted,
   its policies (`policies`) and BackendTLSPolicies for HTTPS/GRPCS backends;
7. an Ingress's `defaultBackend` as the class's catch-all route (the oldest wins).

The objects come out in apply order (Gateway, ReferenceGrants, filters, routes, policies), each
with its namespace, deduplicated by kind, namespace and name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from propylon.ingress import classes, gateway, hosts, routes
from propylon.ingress.annotations.serveralias import aliases
from propylon.ingress.backends import backend_ref
from propylon.ingress.effects import Context, Effect, Manifest, Policy, refused
from propylon.ingress.hosts import Converted
from propylon.ingress.listenerpolicies import listener_policies
from propylon.ingress.manifests import gateway_api, manifest
from propylon.ingress.model import PREFIX, Json, decode_ingress
from propylon.ingress.names import child_name
from propylon.ingress.policies import policies
from propylon.ingress.registry import CONVERTERS, UNSUPPORTED
from propylon.ingress.report import Outcome, ReportEntry

CONTROLLER = "propylon.dev/ingress-controller"
NGINX_CONTROLLER = "k8s.io/ingress-nginx"
#: Names the ingress-nginx controller's ConfigMap has in its manifests and Helm chart.
CONFIGMAP_NAMES = frozenset({"ingress-nginx-controller", "nginx-configuration",
                             "nginx-ingress-controller"})
_ORDER = ("ConfigMap", "Gateway", "ReferenceGrant", "HTTPRouteFilter", "HTTPRoute", "GRPCRoute",
          "TLSRoute", "BackendTLSPolicy", "ClientTrafficPolicy", "SecurityPolicy", "BackendTrafficPolicy",
          "EnvoyExtensionPolicy")


@dataclass(frozen=True)
class Options:
    controllers: frozenset[str] = frozenset({CONTROLLER})
    class_names: frozenset[str] = frozenset()
    take_unclassed: bool = False
    unclassed_class: str = "nginx"
    gateway_namespace: str = "default"
    gateway_class: str = "propylon"
    config: Mapping[str, str] = field(default_factory=dict)  # over the ConfigMap's data


#: What `propylon migrate` converts: ingress-nginx's classes and Ingresses without a class.
MIGRATE = Options(controllers=frozenset({CONTROLLER, NGINX_CONTROLLER}),
                  class_names=frozenset({"nginx"}), take_unclassed=True)


@dataclass(frozen=True)
class Conversion:
    objects: tuple[Json, ...]
    report: tuple[ReportEntry, ...]
    ignored: tuple[str, ...]
    gateways: Mapping[str, tuple[str, str]]  # Ingress "namespace/name" -> its Gateway


def _by_name(objects: Iterable[Json], kind: str) -> dict[tuple[str, str], Json]:
    return {(str((o.get("metadata") or {}).get("namespace") or "default"),
             str((o.get("metadata") or {}).get("name"))): o
            for o in objects if o.get("kind") == kind}


def _annotations(ctx: Context, canary: bool) -> tuple[tuple[Effect, ...], list[ReportEntry]]:
    """The effects of an Ingress's annotations and one report entry per annotation; on a canary
    Ingress only the canary annotations count, as in ingress-nginx."""
    ing = ctx.ingress
    effects: list[Effect] = []
    entries = []
    for name, value in sorted(ing.annotations.items()):
        if canary and not name.startswith("canary"):
            entries.append(ReportEntry(ing.key, PREFIX + name, Outcome.DIFFERS,
                                       "ignored on a canary Ingress: the mainline Ingress's "
                                       "annotations apply, as in ingress-nginx"))
            continue
        converter = CONVERTERS.get(name)
        result = converter(ctx, value) if converter else refused(UNSUPPORTED)
        effects += result.effects
        entries.append(ReportEntry(ing.key, PREFIX + name, result.outcome, result.note))
    return tuple(effects), entries


def convert(objects: Iterable[Json], options: Options = Options()) -> Conversion:
    objects = tuple(objects)
    services, secrets = _by_name(objects, "Service"), _by_name(objects, "Secret")
    config: dict[str, str] = {}
    for (_, name), cm in sorted(_by_name(objects, "ConfigMap").items()):
        if name in CONFIGMAP_NAMES:
            config.update({str(k): str(v) for k, v in (cm.get("data") or {}).items()})
    config.update(options.config)
    selection = classes.select(
        (decode_ingress(o) for o in objects if o.get("kind") == "Ingress"),
        (o for o in objects if o.get("kind") == "IngressClass"), options.controllers,
        options.class_names, options.take_unclassed, options.unclassed_class)

    report: list[ReportEntry] = []
    convs: list[Converted] = []
    for class_name, ing in selection.taken:
        ctx = Context(ing, config, secrets, services, _by_name(objects, "ConfigMap"))
        canary = ing.annotations.get("canary", "").lower() == "true"
        effects, entries = _annotations(ctx, canary)
        convs.append(Converted(class_name, ing, effects))
        report += entries
    all_convs = tuple(convs)
    host_facts = hosts.hosts(all_convs)

    out: list[Json] = []
    gateways: dict[str, tuple[str, str]] = {}
    for class_name in dict.fromkeys(c.class_name for c in all_convs):
        plan = gateway.plan(class_name, all_convs, options.gateway_namespace,
                            classes.gateway_name(class_name), options.gateway_class, secrets)
        out += plan.manifests
        report += plan.entries
        gateway_fragments: list[Policy] = []
        catch_all: Converted | None = None
        for conv in all_convs:
            if conv.class_name != class_name:
                continue
            ing = conv.ingress
            gateways[ing.key] = (plan.namespace, plan.name)
            if conv.canary:
                report += _orphan_canary(conv, all_convs)
                continue
            refs: list[tuple[str, str]] = []
            alias = tuple(a for a in aliases(conv.settings.get("server-alias", ""))
                          if (class_name, a) not in host_facts)
            for host in ing.hosts:
                built = routes.host_routes(conv, host_facts[(class_name, host)],
                                           plan.parent(host), all_convs, services, config,
                                           alias)
                out += built.manifests
                refs += built.route_refs
                report += built.entries
            out += _www(conv, class_name, host_facts, plan, config)
            for host, listener in plan.passthrough:
                if conv.settings.get("ssl-passthrough") == "true" and host in ing.hosts:
                    made, refusals = routes.passthrough_route(conv, host, plan.parent(host),
                                                              listener, services)
                    out += made
                    report += refusals
            if ing.default_backend is not None:
                if catch_all is None:
                    catch_all = conv
                    route, entry = _default_route(conv, plan, services)
                    out += route
                    refs += [("HTTPRoute", r["metadata"]["name"]) for r in route]
                    report += entry
                else:
                    report.append(ReportEntry(ing.key, "spec.defaultBackend", Outcome.DIFFERS,
                                              f"the default backend of {catch_all.ingress.key}, "
                                              "an older Ingress, serves unmatched requests"))
            out += [dict(e.manifest) for e in conv.effects if isinstance(e, Manifest)]
            out += policies((e for e in conv.effects
                             if isinstance(e, Policy) and e.target == "route"),
                            ing.namespace, ing.name, refs)
            out += _backend_tls(conv)
            gateway_fragments += [e for e in conv.effects
                                  if isinstance(e, Policy) and e.target == "gateway"]
        out += policies(gateway_fragments, plan.namespace, plan.name, [("Gateway", plan.name)])
        on_listeners, entries = listener_policies(
            (c for c in all_convs if c.class_name == class_name and not c.canary), plan,
            gateway_fragments)
        out += on_listeners
        report += entries
    return Conversion(_ordered(out), tuple(report), selection.ignored, gateways)


def _www(conv: Converted, class_name: str, facts: Mapping[tuple[str, str], hosts.Host],
         plan: gateway.GatewayPlan, config: Mapping[str, str]) -> list[Json]:
    """The from-to-www redirects of an Ingress's hosts whose other name no Ingress serves."""
    if conv.settings.get("from-to-www-redirect") != "true":
        return []
    out: list[Json] = []
    for host in conv.ingress.hosts:
        other = host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"
        if host and "*" not in host and (class_name, other) not in facts:
            out += routes.www_routes(conv, host, plan.parent(other), config)
    return out


def _default_route(conv: Converted, plan: gateway.GatewayPlan,
                   services: Mapping[tuple[str, str], Json]
                   ) -> tuple[list[Json], list[ReportEntry]]:
    ing = conv.ingress
    assert ing.default_backend is not None
    ref, why = backend_ref(ing.namespace, ing.default_backend, services)
    if ref is None:
        return [], [ReportEntry(ing.key, "spec.defaultBackend", Outcome.REFUSED, why)]
    return [gateway_api("HTTPRoute", ing.namespace, child_name(ing.name, "default-backend"), {
        "parentRefs": [routes.parent_ref(plan.parent(""), "http")],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                   "backendRefs": [ref]}]})], []


def _orphan_canary(conv: Converted, convs: tuple[Converted, ...]) -> list[ReportEntry]:
    """Report the paths of a canary Ingress that no mainline Ingress shares."""
    ing = conv.ingress
    return [ReportEntry(ing.key, p.at, Outcome.CONVERTED,
                        f"no mainline Ingress serves {rule.host or '*'}{p.path}: the canary "
                        "serves nothing there (404), as in ingress-nginx")
            for rule in ing.rules for p in rule.paths
            if not any(not c.canary and c.class_name == conv.class_name
                       and any(r.host == rule.host and q.path == p.path
                               for r in c.ingress.rules for q in r.paths) for c in convs)]


def _backend_tls(conv: Converted) -> list[Json]:
    """BackendTLSPolicies for the Services of an Ingress with backend-protocol HTTPS or GRPCS."""
    if conv.settings.get("backend-protocol") not in ("HTTPS", "GRPCS"):
        return []
    ing = conv.ingress
    settings = conv.settings
    names = sorted({p.backend.service for r in ing.rules for p in r.paths if p.backend.service})
    ca = settings.get("proxy-ssl-ca")
    trust = ({"caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": ca}]} if ca
             else {"wellKnownCACertificates": "System"})
    return [manifest("BackendTLSPolicy", "gateway.networking.k8s.io", ing.namespace,
                     child_name(name, "backend-tls"), {
                         "targetRefs": [{"group": "", "kind": "Service", "name": name}],
                         "validation": {**trust, "hostname": settings.get(
                             "proxy-ssl-name", f"{name}.{ing.namespace}.svc")}})
            for name in names]


def _ordered(objects: list[Json]) -> tuple[Json, ...]:
    unique: dict[tuple[str, str, str], Json] = {}
    for obj in json.loads(json.dumps(objects)):  # plain, unshared values
        meta = obj["metadata"]
        unique.setdefault((obj["kind"], meta["namespace"], meta["name"]), obj)

    def rank(key: tuple[str, str, str]) -> tuple[int, str, str, str]:
        kind = key[0]
        return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), *key)
    return tuple(unique[k] for k in sorted(unique, key=rank))
