"""The routes of one Ingress host: an HTTPRoute (a GRPCRoute for gRPC backends) per Ingress and
host, with ingress-nginx's meaning of its paths, annotations, canaries and HTTPS redirect.

- Paths: `Exact` -> Exact, `Prefix` -> PathPrefix (ingress-nginx matches whole segments too),
  `ImplementationSpecific` -> PathPrefix (nginx would match any string prefix: reported); on a
  regex host (see `hosts`) every path is `(?i)<path>.*`, ingress-nginx's `~* "^<path>"`, and
  longer paths are tried first, as ingress-nginx sorts them.
- `rewrite-target`: a fixed target is a URLRewrite ReplaceFullPath (nginx's `rewrite` replaces
  the whole URI); one with capture groups (`$1`) an Envoy Gateway HTTPRouteFilter regex rewrite.
- Canary: the rule of a path shared with a canary Ingress becomes the canary's header rules
  (`always`/`never`, a value or a pattern), then its cookie rules, then the weighted split,
  in the order ingress-nginx's balancer checks them.
- CORS with a wildcard origin: each rule preceded by its twin for the origins ingress-nginx
  does not allow (`annotations.cors.one_label_rules`).
- More than 16 rules (the Gateway API's limit) make more routes, `<name>-2`, ..., with the
  rules of one path kept together.
- `server-alias`: the aliases join the hostnames of the Ingress's routes.
- HTTPS: a host with TLS (or `force-ssl-redirect`) and `ssl-redirect` on (ingress-nginx's
  default) answers plain HTTP with a redirect to https (the ConfigMap's `http-redirect-code`,
  308 by default) and serves the rules on its HTTPS listeners.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from propylon.ingress.annotations.cors import one_label_rules
from propylon.ingress.backends import backend_ref
from propylon.ingress.effects import ExtraRule, Filter, Policy, Respond
from propylon.ingress.hosts import Converted, Host
from propylon.ingress.luascripts import www_redirect
from propylon.ingress.manifests import (
    EG_GROUP,
    fixed_redirect,
    gateway_api,
    manifest,
    merge_filters,
)
from propylon.ingress.model import Json, Path
from propylon.ingress.names import child_name, host_label
from propylon.ingress.policies import policies
from propylon.ingress.report import Outcome, ReportEntry
from propylon.translate.regexes import problem

_GRPC_FILTERS = {"RequestHeaderModifier", "ResponseHeaderModifier", "ExtensionRef"}
MAX_RULES = 16  # rules of one route (the Gateway API's limit)
_CAPTURE = re.compile(r"\$(\d)|\$\{(\d)\}")


@dataclass(frozen=True)
class Parent:
    """Where a host's routes attach: the Gateway and its HTTPS listeners for the host."""
    namespace: str
    name: str
    https: tuple[str, ...]


@dataclass(frozen=True)
class Routes:
    manifests: tuple[dict[str, Any], ...]
    route_refs: tuple[tuple[str, str], ...]      # (kind, name) of the routes, for policies
    entries: tuple[ReportEntry, ...]


def parent_ref(parent: Parent, section: str) -> dict[str, Any]:
    return {"name": parent.name, "namespace": parent.namespace, "sectionName": section}


def path_match(path: Path, regex: bool) -> tuple[dict[str, Any] | None, str]:
    if regex:
        value = f"(?i){path.path}.*"
        why = problem(value)
        return (None, why) if why else ({"type": "RegularExpression", "value": value}, "")
    kind = {"Exact": "Exact"}.get(path.path_type, "PathPrefix")
    return {"type": kind, "value": path.path}, ""


def rewrite(conv: Converted, path: Path, index: int) -> tuple[list[Json], list[Json], str]:
    """(filters, manifests, problem) of `rewrite-target` for one path."""
    target = conv.settings.get("rewrite-target")
    if target is None:
        return [], [], ""
    if "$" not in target:
        return [{"type": "URLRewrite", "urlRewrite": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": target}}}], [], ""
    substitution = _CAPTURE.sub(lambda m: "\\" + (m.group(1) or m.group(2)),
                                target.replace("\\", "\\\\"))
    if "$" in substitution:
        return [], [], (f'rewrite-target "{target}" uses nginx variables, which Envoy does not '
                        "expand: use only capture groups ($1 ... $9)")
    ing = conv.ingress
    name = child_name(ing.name, "rewrite", str(index))
    pattern = f"(?i)^{path.path}.*"
    filter_ = manifest("HTTPRouteFilter", EG_GROUP, ing.namespace, name, {"urlRewrite": {
        "path": {"type": "ReplaceRegexMatch",
                 "replaceRegexMatch": {"pattern": pattern, "substitution": substitution}}}})
    ref = {"type": "ExtensionRef",
           "extensionRef": {"group": EG_GROUP, "kind": "HTTPRouteFilter", "name": name}}
    return [ref], [filter_], ""


def canary_rules(canary: Converted, match: Json, filters: Sequence[Json], mainline: Json,
                 alternative: Json) -> list[dict[str, Any]]:
    """The rules of one path shared with a canary Ingress, in ingress-nginx's order."""
    ann = canary.ingress.annotations

    def rule(header: Json | None, backends: Sequence[Json]) -> dict[str, Any]:
        m = dict(match, headers=[header]) if header else dict(match)
        return _rule([m], filters, backends)

    rules = []
    header = ann.get("canary-by-header", "")
    if header:
        value, pattern = ann.get("canary-by-header-value", ""), ann.get("canary-by-header-pattern", "")
        if value:
            rules.append(rule({"name": header, "value": value}, [alternative]))
        elif pattern:
            regex = f".*(?:{pattern}).*"
            if problem(pattern) is None and problem(regex) is None:
                rules.append(rule({"name": header, "type": "RegularExpression", "value": regex},
                                  [alternative]))
            else:  # nginx fails the match: a request with the header goes to the mainline
                rules.append(rule({"name": header, "type": "RegularExpression", "value": ".*"},
                                  [mainline]))
        else:
            rules.append(rule({"name": header, "value": "always"}, [alternative]))
            rules.append(rule({"name": header, "value": "never"}, [mainline]))
    cookie = ann.get("canary-by-cookie", "")
    if cookie:
        for value, backend in (("always", alternative), ("never", mainline)):
            regex = rf"(?:.*;\s*)?{re.escape(cookie)}={value}(?:\s*;.*)?"
            rules.append(rule({"name": "Cookie", "type": "RegularExpression", "value": regex},
                              [backend]))
    total = _number(ann.get("canary-weight-total", ""), 100)
    weight = min(_number(ann.get("canary-weight", ""), 0), total)
    split = ([dict(mainline, weight=total - weight), dict(alternative, weight=weight)]
             if weight else [mainline])
    rules.append(rule(None, split))
    return rules


def _number(text: str, default: int) -> int:
    return int(text) if text.strip().isdigit() else default


def redirect_code(config: Mapping[str, str]) -> int:
    """The ConfigMap's `http-redirect-code` (301, 302, 307 or 308; 308 otherwise, as
    ingress-nginx falls back to its default)."""
    code = _number(config.get("http-redirect-code", ""), 308)
    return code if code in (301, 302, 307, 308) else 308


def _rule(matches: Sequence[Json], filters: Sequence[Json],
          backends: Sequence[Json] = ()) -> dict[str, Any]:
    """A rule, without the empty fields."""
    return {"matches": list(matches), **({"filters": list(filters)} if filters else {}),
            **({"backendRefs": list(backends)} if backends else {})}


def find_canary(convs: tuple[Converted, ...], main: Converted, host: str,
                path: Path) -> tuple[Converted, Path] | None:
    for conv in convs:
        if conv.canary and conv.class_name == main.class_name:
            for rule in conv.ingress.rules:
                for p in rule.paths:
                    if rule.host == host and p.path == path.path:
                        return conv, p
    return None


def host_routes(conv: Converted, host: Host, parent: Parent, convs: tuple[Converted, ...],
                services: Mapping[tuple[str, str], Json], config: Mapping[str, str],
                aliases: tuple[str, ...] = ()) -> Routes:
    ing = conv.ingress
    entries: list[ReportEntry] = []
    extra: list[Json] = []

    def entry(at: str, outcome: Outcome, note: str) -> None:
        entries.append(ReportEntry(ing.key, at, outcome, note))

    common = [e.filter for e in conv.effects if isinstance(e, Filter)]
    respond = next((e for e in conv.effects if isinstance(e, Respond)), None)
    paths = [p for r in ing.rules if r.host == host.host for p in r.paths]
    if ing.default_backend is not None and "/" not in host.roots and host.host:
        paths.append(Path("/", "Prefix", ing.default_backend, "spec.defaultBackend"))
    rules: list[dict[str, Any]] = []
    for index, path in enumerate(paths):
        match, why = path_match(path, host.regex)
        ref, no_ref = backend_ref(ing.namespace, path.backend, services)
        if match is None or (ref is None and respond is None):
            entry(path.at, Outcome.REFUSED, f"path {path.path!r} left out: {why or no_ref}")
            continue
        if path.path_type == "ImplementationSpecific" and not host.regex and path.path != "/":
            entry(f"{path.at}.pathType", Outcome.DIFFERS,
                  f"ImplementationSpecific {path.path!r} is a PathPrefix: it matches whole path "
                  f"segments, where nginx would also match {path.path.rstrip('/')}x...")
        filters, manifests, bad = rewrite(conv, path, index)
        if bad:
            entry(path.at, Outcome.REFUSED, f"path {path.path!r} left out: {bad}")
            continue
        extra += manifests
        merged = merge_filters([*common, *filters])
        m = {"path": match}
        if respond is not None:
            rules.append(_rule([m], list(respond.filters)))
            continue
        assert ref is not None
        found = find_canary(convs, conv, host.host, path)
        alt = backend_ref(found[0].ingress.namespace, found[1].backend, services)[0] \
            if found else None
        if found and alt is not None:
            rules += canary_rules(found[0], m, merged, ref, alt)
        else:
            rules.append(_rule([m], merged, [ref]))
    rules += [_rule(list(e.matches), list(e.filters))
              for e in conv.effects if isinstance(e, ExtraRule)]
    if not rules:
        return Routes((), (), tuple(entries))
    return _split(conv, host, parent, rules, config, aliases, tuple(extra), tuple(entries))


def _split(conv: Converted, host: Host, parent: Parent, rules: list[dict[str, Any]],
           config: Mapping[str, str], aliases: tuple[str, ...], extra: tuple[Json, ...],
           entries: tuple[ReportEntry, ...]) -> Routes:
    """The host's route on its listeners, with plain HTTP redirected to https when it must."""
    ing = conv.ingress
    base = child_name(ing.name, host_label(host.host) if host.host else "any")
    settings = conv.settings
    ssl = settings.get("ssl-redirect", config.get("ssl-redirect", "true")) == "true"
    force = settings.get("force-ssl-redirect",
                         config.get("force-ssl-redirect", "false")) == "true"
    redirect = force or (ssl and bool(parent.https))
    hostnames = {"hostnames": [host.host, *aliases]} if host.host else {}
    grpc = settings.get("backend-protocol") in ("GRPC", "GRPCS")
    kind = "GRPCRoute" if grpc else "HTTPRoute"
    served = [parent_ref(parent, s) for s in (() if redirect else ("http",)) + parent.https]
    out: list[dict[str, Any]] = [dict(e) for e in extra]
    refs: list[tuple[str, str]] = []
    if served:
        rules_served = rules if grpc else [t for r in rules for t in one_label_rules(r)]
        for name, chunk in _packed(base, rules_served):
            out.append(gateway_api(kind, ing.namespace, name, {
                "parentRefs": served, **hostnames,
                "rules": [_grpc_rule(r) for r in chunk] if grpc else chunk}))
            refs.append((kind, name))
    if redirect:
        code = redirect_code(config)
        name = child_name(base, "https-redirect")
        redirect_rules = [_rule(r["matches"], [{"type": "RequestRedirect", "requestRedirect": {
            "scheme": "https", "statusCode": code}}]) for r in rules]
        root = any(m.get("path", {}).get("value") in ("/", "(?i)/.*")
                   for r in rules for m in r["matches"])
        if root and host.host and "*" not in host.host \
                and settings.get("preserve-trailing-slash") != "true":
            # ingress-nginx drops the trailing "/" of the redirected URI
            filter_, ref = fixed_redirect(ing.namespace, name, code, f"https://{host.host}")
            out.append(filter_)
            redirect_rules.insert(0, _rule([{"path": {"type": "Exact", "value": "/"}}], [ref]))
        for part, chunk in _packed(name, redirect_rules):
            out.append(gateway_api("HTTPRoute", ing.namespace, part, {
                "parentRefs": [parent_ref(parent, "http")], **hostnames, "rules": chunk}))
            refs.append(("HTTPRoute", part))
    return Routes(tuple(out), tuple(refs), entries)


def _packed(name: str, rules: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """`rules` as the rules of HTTPRoutes `name`, `name-2`, ... of at most `MAX_RULES` each,
    the consecutive rules of one path (a canary's, a CORS twin and its rule, whose order
    decides between them) kept in one route."""
    groups: list[list[dict[str, Any]]] = []
    for rule in rules:
        if groups and _paths(groups[-1][0]) == _paths(rule):
            groups[-1].append(rule)
        else:
            groups.append([rule])
    chunks: list[list[dict[str, Any]]] = [[]]
    for group in groups:
        if chunks[-1] and len(chunks[-1]) + len(group) > MAX_RULES:
            chunks.append([])
        chunks[-1] += group
    return [(child_name(name, str(i + 1)) if i else name, chunk)
            for i, chunk in enumerate(chunks)]


def _paths(rule: Json) -> list[Any]:
    return [m.get("path") for m in rule["matches"]]


def _grpc_rule(rule: Json) -> dict[str, Any]:
    """An HTTPRoute rule as a GRPCRoute rule: `/` is any method, `/<service>[/<method>]` one."""
    matches = []
    for m in rule["matches"]:
        path = m["path"]["value"].removeprefix("(?i)").removesuffix(".*").strip("/")
        service, _, method = path.partition("/")
        exact = {"type": "Exact", "service": service, **({"method": method} if method else {})}
        matches.append({**({"method": exact} if service else {}),
                        **({"headers": m["headers"]} if "headers" in m else {})})
    out: dict[str, Any] = {"matches": [m for m in matches if m] or [{}]}
    filters = [f for f in rule.get("filters", ()) if f.get("type") in _GRPC_FILTERS]
    if filters:
        out["filters"] = filters
    if "backendRefs" in rule:
        out["backendRefs"] = rule["backendRefs"]
    return out



def www_routes(conv: Converted, host: str, parent: Parent,
               config: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    """`from-to-www-redirect`: `www.<host>` (or `<host>` of a `www.` host) redirected to `host`
    with the request's scheme and port as nginx does, `Location: <scheme>://<host>:<port>` and
    the request URI less one trailing `/` (so `/` gives exactly `<scheme>://<host>:<port>`): a
    Lua script (an EnvoyExtensionPolicy on the route) answers, since a RequestRedirect leaves
    out a well-known port; the route's own RequestRedirect says the same without the port."""
    ing = conv.ingress
    other = host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"
    code = redirect_code(config)
    out: list[dict[str, Any]] = []
    for scheme, port, sections in (("http", 80, ("http",)), ("https", 443, parent.https)):
        if not sections:
            continue
        name = child_name(ing.name, host_label(other), "www-redirect", scheme)
        redirect = {"type": "RequestRedirect", "requestRedirect": {
            "hostname": host, "port": port, "statusCode": code}}
        out += [gateway_api("HTTPRoute", ing.namespace, name, {
            "parentRefs": [parent_ref(parent, s) for s in sections], "hostnames": [other],
            "rules": [_rule([{"path": {"type": "PathPrefix", "value": "/"}}], [redirect])]}),
                *policies([Policy("EnvoyExtensionPolicy", {"lua": [{
                    "type": "Inline",
                    "inline": www_redirect(code, f"{scheme}://{host}:{port}")}]})],
                          ing.namespace, name, [("HTTPRoute", name)])]
    return tuple(out)


def passthrough_route(conv: Converted, host: str, parent: Parent, listener: str,
                      services: Mapping[tuple[str, str], Json]
                      ) -> tuple[tuple[dict[str, Any], ...], tuple[ReportEntry, ...]]:
    """`ssl-passthrough`: TLS to `host` on 443 goes, still encrypted, to the backend of the
    host's first path (nginx passes the connection on by SNI, before any HTTP)."""
    ing = conv.ingress
    paths = [p for r in ing.rules if r.host == host for p in r.paths]
    ref, why = backend_ref(ing.namespace, paths[0].backend, services) if paths else (None, "")
    if ref is None:
        return (), (ReportEntry(ing.key, "spec.rules", Outcome.REFUSED,
                                f"ssl-passthrough for {host} has no backend: {why or 'add a path'}"),)
    return (gateway_api("TLSRoute", ing.namespace,
                        child_name(ing.name, host_label(host), "passthrough"), {
                            "parentRefs": [parent_ref(parent, listener)], "hostnames": [host],
                            "rules": [{"backendRefs": [ref]}]}),), ()
