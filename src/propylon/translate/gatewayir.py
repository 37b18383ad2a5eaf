"""Building one Gateway's IR from its servable listeners and the routes attached to them.

One `ir.Listener` per port (bind address and port from the InfraState). An HTTP port gets one
RouteConfig `<ns>/<gw>/<port>` whose VirtualHosts are the hostnames served on that port; an HTTPS
port gets one TLSFilterChain per listener (SNI = the listener hostname) with its certificates and
its own RouteConfig `<ns>/<gw>/<listener>`. Listener isolation: a hostname is served only by the
routes of the most specific listener matching it, and every listener hostname gets a virtual host
even without routes, so its requests 404 instead of falling into a wildcard listener's routes.
There is a catch-all `*` virtual host only for a listener without hostname, so unknown hosts 404.
A redirect carries the scheme and port of the listener serving it (its Location defaults to them).
An HTTPS listener's table answers 421 (Misdirected Request) for the hosts another HTTPS listener
of its port serves, since HTTP/2 clients reuse a connection across names its certificate covers.
A TLS listener (TLSRoutes) adds one TCPFilterChain per route to its port's listener, selected by
the SNI names the route serves there; HTTPS and TLS listeners may share a port.
Clusters reached over TLS present the Gateway's backend client certificate, when it has one.

With a `vhosts` store (from `memo.Memo`), a virtual host is built again only when the translated
rules of the routes it serves (the same objects, in the same order, from the same kind of
listener) change; otherwise last pass's `VirtualHost` is reused.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import replace
from typing import Any, Literal, Protocol

from propylon.ir.model import (
    Cluster,
    DirectResponse,
    GatewayIR,
    GatewayKey,
    InfraState,
    Listener,
    Route,
    RouteConfig,
    RouteMatch,
    Secret,
    TCPFilterChain,
    TLSFilterChain,
    VirtualHost,
)
from propylon.translate.gateways import ListenerState, port_state
from propylon.translate.hostnames import matches, specificity
from propylon.translate.precedence import Ranked, ordered

MISDIRECTED = 421


class Store(Protocol):
    """Where built virtual hosts are kept between passes (`memo.Store`)."""

    def get(self, key: tuple[Hashable, ...] | None) -> Any: ...

    def put(self, key: tuple[Hashable, ...] | None, value: Any) -> None: ...


def _owner(hostname: str, listeners: list[ListenerState]) -> ListenerState | None:
    """The most specific listener of the port that a request for `hostname` reaches."""
    fitting = [ls for ls in listeners
               if ls.spec.hostname is None or matches(ls.spec.hostname, hostname)]
    return min(fitting, key=lambda ls: specificity(ls.spec.hostname), default=None)


def _on_listener(routes: list[Ranked], ls: ListenerState) -> list[Ranked]:
    """Redirects learn the scheme and port of the listener they are served on."""
    scheme: Literal["http", "https"] = "https" if ls.spec.protocol == "HTTPS" else "http"
    return [r if r.route.redirect is None else replace(r, route=replace(
        r.route, redirect=replace(r.route.redirect, listener_scheme=scheme,
                                  listener_port=ls.spec.port)))
            for r in routes]


def _route_config(name: str, listeners: list[ListenerState], vhosts: Store | None) -> RouteConfig:
    by_domain: dict[str, list[tuple[Any, ListenerState]]] = {}
    owners: dict[str, ListenerState | None] = {}
    for ls in listeners:
        by_domain.setdefault(ls.spec.hostname or "*", [])
    for ls in listeners:
        for attachment in ls.routes:
            for host in attachment.hostnames:
                if host != "*":
                    if host not in owners:
                        owners[host] = _owner(host, listeners)
                    if owners[host] is not ls:
                        continue
                by_domain.setdefault(host, []).append((attachment.translated, ls))
    return RouteConfig(name, tuple(
        _virtual_host(f"{name}/{domain}", domain, sources, vhosts)
        for domain, sources in sorted(by_domain.items(),
                                      key=lambda kv: (specificity(kv[0]), kv[0]))))


def _virtual_host(name: str, domain: str, sources: list[tuple[Any, ListenerState]],
                  vhosts: Store | None) -> VirtualHost:
    """The virtual host of `domain` serving the translated rules of `sources`."""
    key = None if vhosts is None else (name, domain, tuple(
        (id(translated), ls.spec.protocol, ls.spec.port) for translated, ls in sources))
    found = None if vhosts is None else vhosts.get(key)
    if found is not None:
        return found[0]  # type: ignore[no-any-return]
    routes = [r for translated, ls in sources for r in _on_listener(translated.routes, ls)]
    built = VirtualHost(name, (domain,), ordered(_unique(routes)))
    if vhosts is not None:  # the sources are kept so that their ids stay theirs
        vhosts.put(key, (built, tuple(translated for translated, _ in sources)))
    return built


def _misdirected(config: RouteConfig, ls: ListenerState,
                 port: list[ListenerState]) -> RouteConfig:
    """An HTTPS listener's table answers 421 for hosts another HTTPS listener of its port is
    the most specific for: HTTP/2 may reuse a connection made for one SNI name for another."""
    others = [o for o in port if o is not ls and o.spec.protocol == "HTTPS"]
    if not others:
        return config
    mine = ls.spec.hostname or "*"
    vhosts = {vh.domains[0]: vh for vh in config.virtual_hosts
              if vh.domains[0] in (mine, "*") or _owner(vh.domains[0], port) is ls}
    for other in others:
        domain = other.spec.hostname or "*"
        if domain not in vhosts and domain != mine:
            vhosts[domain] = VirtualHost(f"{config.name}/{domain}", (domain,), (Route(
                f"{config.name}/{domain}/misdirected", RouteMatch(),
                direct_response=DirectResponse(MISDIRECTED)),))
    return RouteConfig(config.name, tuple(
        vh for _, vh in sorted(vhosts.items(), key=lambda kv: (specificity(kv[0]), kv[0]))))


def _unique(routes: list[Ranked]) -> list[Ranked]:
    """A route attached through two listeners of one port must appear once per host."""
    return list({r.route.name: r for r in routes}.values())


def build(key: GatewayKey, listeners: list[ListenerState], infra: InfraState,
          address: str, client_certificate: Secret | None = None,
          vhosts: Store | None = None) -> GatewayIR:
    by_port: dict[int, list[ListenerState]] = {}
    for ls in listeners:
        by_port.setdefault(ls.spec.port, []).append(ls)
    ir_listeners, configs = [], []
    secrets: dict[str, Secret] = {}
    clusters: dict[str, Cluster] = {}
    for port, group in sorted(by_port.items()):
        ps = port_state(infra, port)
        bind_port = ps.bind_port if ps is not None and ps.bind_port is not None else port
        protocol = group[0].spec.protocol
        for ls in group:
            for attachment in ls.routes:
                clusters.update(attachment.translated.clusters)
        if protocol == "HTTP":
            config = _route_config(f"{key}/{port}", group, vhosts)
            configs.append(config)
            ir_listeners.append(Listener(f"{key}/{port}", address, port, bind_port, "HTTP",
                                         route_config=config.name))
            continue
        chains, tcp_chains = [], []
        for ls in sorted(group, key=lambda ls: (specificity(ls.spec.hostname), ls.ir_name)):
            secrets.update((s.name, s) for s in ls.secrets)
            if ls.spec.protocol == "TLS":
                tcp_chains.extend(_tcp_chains(f"{key}/{ls.ir_name}", ls, group))
                continue
            config = _misdirected(_route_config(f"{key}/{ls.ir_name}", [ls], vhosts), ls, group)
            configs.append(config)
            chains.append(TLSFilterChain(f"{key}/{ls.ir_name}",
                                         (ls.spec.hostname,) if ls.spec.hostname else (),
                                         tuple(s.name for s in ls.secrets), config.name,
                                         ls.client_validation))
        ir_listeners.append(Listener(f"{key}/{port}", address, port, bind_port,
                                     "HTTPS" if chains else "TLS", tls_chains=tuple(chains),
                                     tcp_chains=tuple(tcp_chains)))
    if client_certificate is not None and any(cl.tls for cl in clusters.values()):
        secrets[client_certificate.name] = client_certificate
        clusters = {name: cl if cl.tls is None else replace(cl, tls=replace(
            cl.tls, client_certificate=client_certificate.name)) for name, cl in clusters.items()}
    return GatewayIR(key, tuple(ir_listeners), tuple(configs), _sorted(clusters.values()),
                     tuple(sorted(secrets.values(), key=lambda s: s.name)))


def _tcp_chains(name: str, ls: ListenerState, port: list[ListenerState]) -> list[TCPFilterChain]:
    """One chain per TLSRoute of a TLS listener, for the SNI names this listener is the most
    specific of its port for; an SNI name two routes claim goes to the oldest (then by
    namespace/name). Terminate listeners pass their certificates along."""
    secrets = tuple(s.name for s in ls.secrets)
    claimed: set[str] = set()
    out = []
    for attachment in sorted(ls.routes, key=lambda a: (a.created, a.route)):
        names = [h for h in attachment.hostnames if h not in claimed
                 and (h == "*" or _owner(h, port) is ls)]
        if not names:
            continue
        claimed.update(names)
        out.append(TCPFilterChain(f"{name}/{attachment.route}",
                                  tuple(h for h in names if h != "*"),
                                  attachment.translated.backends, secrets))
    return out


def _sorted(clusters: Iterable[Cluster]) -> tuple[Cluster, ...]:
    return tuple(sorted(clusters, key=lambda cl: cl.name))
