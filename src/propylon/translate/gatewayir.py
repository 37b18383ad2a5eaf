"""Building one Gateway's IR from its servable listeners and the routes attached to them.

One `ir.Listener` per port (bind address and port from the InfraState). An HTTP port gets one
RouteConfig `<ns>/<gw>/<port>` whose VirtualHosts are the hostnames served on that port; an HTTPS
port gets one TLSFilterChain per listener (SNI = the listener hostname) with its certificates and
its own RouteConfig `<ns>/<gw>/<listener>`. Listener isolation: a hostname is served only by the
routes of the most specific listener matching it, and every listener hostname gets a virtual host
even without routes, so its requests 404 instead of falling into a wildcard listener's routes.
There is a catch-all `*` virtual host only for a listener without hostname, so unknown hosts 404.
A redirect carries the scheme and port of the listener serving it (its Location defaults to them:
`httproute.Translated.served_on`).
An HTTPS listener's table answers 421 (Misdirected Request) for the hosts another HTTPS listener
of its port serves, since HTTP/2 clients reuse a connection across names its certificate covers.
A TLS listener (TLSRoutes) adds one TCPFilterChain per route to its port's listener, selected by
the SNI names the route serves there; HTTPS and TLS listeners may share a port. A TCP listener
(TCPRoutes) is a listener of its own with one TCPFilterChain, the oldest route's (the others
attached are counted but not served); a UDP listener (UDPRoutes) the same, on a UDP socket
(`<ns>/<gw>/<port>/udp`: its port number may also be a TCP listener's).
Clusters are as the routes' translation resolved them: the backends stage finishes them
(`backends.finish_clusters`: endpoints, the Gateway's backend client certificate).

Routes are read from each listener's `placements.Placements` (`placed`, by `ListenerState.at`),
hostname by hostname, so a table
is assembled from its hostnames, not from every attachment. With a `tables` store (from
`memo.Memo`), a route table whose listeners (their `ListenerId`) have placements that did not
change (their `version`, a stamp no other content of any listener has) is last pass's, and
otherwise a virtual host is built again only when the placements of its hostname
changed on a listener serving it (their stamps), or those listeners' protocol or port (a table
of one listener whose placements changed looks only at the hostnames stamped since, when it was
of that listener alone before); the others are reused, with the clusters their routes use. A
Gateway's clusters are those its virtual hosts and TLS routes use: a route attached only to a
listener whose hostnames a more specific listener serves adds none.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

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
    transport,
)
from propylon.translate.gateways import ListenerState, port_listener_name, port_state
from propylon.translate.hostnames import matches, specificity
from propylon.translate.placements import ListenerId, Placements
from propylon.translate.precedence import Ranked, ordered
from propylon.translate.types import Store

MISDIRECTED = 421
Placed = Mapping[ListenerId, Placements]  # the routes attached to each listener
# what a route table is built from, per listener: the listener, its placements' version, its
# hostname, protocol and port
Source = tuple[ListenerId, int, str | None, str, int]


def _owner(hostname: str, listeners: list[ListenerState]) -> ListenerState | None:
    """The most specific listener of the port that a request for `hostname` reaches."""
    fitting = [ls for ls in listeners
               if ls.spec.hostname is None or matches(ls.spec.hostname, hostname)]
    return min(fitting, key=lambda ls: specificity(ls.spec.hostname), default=None)


def _route_config(name: str, listeners: list[ListenerState], placed: Placed,
                  tables: Store | None) -> tuple[RouteConfig, dict[str, Cluster]]:
    """The route table of `listeners` (one HTTP port, or one HTTPS listener) and the clusters
    its virtual hosts use, reusing from `tables` what the listeners' placements left as it was
    (see the module docstring)."""
    signature = tuple((ls.at, placed[ls.at].version, ls.spec.hostname, ls.spec.protocol,
                       ls.spec.port) for ls in listeners)
    found: _Table | None = None if tables is None else tables.get((name,))
    if found is not None and found.signature == signature:
        return found.config, found.clusters
    if found is not None and len(found.signature) == len(signature) == 1 \
            and _but_version(found.signature[0]) == _but_version(signature[0]):
        vhosts = _changed_hosts(name, listeners[0], placed, found)
    else:
        vhosts = _all_hosts(name, listeners, placed, found)
    old = found.vhosts if found is not None else {}
    order = (found.order if found is not None and old.keys() == vhosts.keys()
             else tuple(sorted(vhosts, key=lambda d: (specificity(d), d))))
    clusters: dict[str, Cluster] = {}
    for built in vhosts.values():
        clusters.update(built.clusters)
    config = RouteConfig(name, tuple(vhosts[d].vhost for d in order))
    if tables is not None:
        tables.put((name,), _Table(signature, config, clusters, vhosts, order))
    return config, clusters


def _but_version(source: Source) -> tuple[ListenerId, str | None, str, int]:
    """A listener's part of a table's signature without its placements' version: the same
    listener (its `ListenerId`) with the same hostname, protocol and port."""
    at, _, hostname, protocol, port = source
    return at, hostname, protocol, port


def _all_hosts(name: str, listeners: list[ListenerState], placed: Placed,
               found: _Table | None) -> dict[str, _Built]:
    """Every virtual host of the table, each reused from `found` when its sources are."""
    by_domain: dict[str, list[ListenerState]] = {}
    for ls in listeners:
        by_domain.setdefault(ls.spec.hostname or "*", [])
    alone = len(listeners) == 1  # then every hostname attached is its own
    for ls in listeners:
        for host in placed[ls.at].hosts:
            if not alone and host != "*" and _owner(host, listeners) is not ls:
                continue
            by_domain.setdefault(host, []).append(ls)
    old = found.vhosts if found is not None else {}
    return {domain: _virtual_host(f"{name}/{domain}", domain, serving, placed, old.get(domain))
            for domain, serving in by_domain.items()}


def _changed_hosts(name: str, ls: ListenerState, placed: Placed,
                   found: _Table) -> dict[str, _Built]:
    """The table of one listener whose placements changed since `found` was built from them
    alone: only the hostnames stamped since then, or gone since, are looked at."""
    since, stamps, own = found.signature[0][1], placed[ls.at].stamps, ls.spec.hostname or "*"
    vhosts = dict(found.vhosts)
    touched = [h for h, stamp in stamps.items() if stamp > since]
    for host in [*touched, *(vhosts.keys() - stamps.keys())]:
        if host in stamps or host == own:
            vhosts[host] = _virtual_host(f"{name}/{host}", host, [ls], placed, vhosts.get(host))
        else:
            del vhosts[host]
    return vhosts


@dataclass(frozen=True)
class _Built:
    """A virtual host, what it was built from, and the clusters its routes use."""

    key: tuple[Hashable, ...]
    vhost: VirtualHost
    clusters: dict[str, Cluster]


@dataclass(frozen=True)
class _Table:
    """A route table, the placements it was built from, and its virtual hosts by domain."""

    signature: tuple[Source, ...]
    config: RouteConfig
    clusters: dict[str, Cluster]
    vhosts: dict[str, _Built]
    order: tuple[str, ...]  # the domains, most specific first


def _virtual_host(name: str, domain: str, serving: list[ListenerState], placed: Placed,
                  old: _Built | None) -> _Built:
    """The virtual host of `domain` serving the routes the `serving` listeners attached for it;
    `old` when it was built from the same placements of the same kind of listeners."""
    key = tuple((placed[ls.at].stamps.get(domain), ls.spec.protocol, ls.spec.port)
                for ls in serving)
    if old is not None and old.key == key:
        return old
    sources = [(translated, ls) for ls in serving
               for per_route in placed[ls.at].hosts.get(domain, {}).values()
               for translated in per_route]
    routes = [r for translated, ls in sources for r in translated.served_on(ls.spec)]
    clusters: dict[str, Cluster] = {}
    for translated, _ in sources:
        clusters.update(translated.clusters)
    return _Built(key, VirtualHost(name, (domain,), ordered(_unique(routes))), clusters)


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


def build(key: GatewayKey, listeners: list[ListenerState], placed: Placed, infra: InfraState,
          address: str, tables: Store | None = None) -> GatewayIR:
    """The IR of one Gateway, its clusters not finished yet (`backends.finish_clusters`)."""
    by_port: dict[tuple[int, str], list[ListenerState]] = {}
    for ls in listeners:
        by_port.setdefault((ls.spec.port, transport(ls.spec.protocol)), []).append(ls)
    ir_listeners, configs = [], []
    secrets: dict[str, Secret] = {}
    clusters: dict[str, Cluster] = {}
    for (port, _), group in sorted(by_port.items()):
        ps = port_state(infra, port)
        bind_port = ps.bind_port if ps is not None and ps.bind_port is not None else port
        protocol = group[0].spec.protocol
        if protocol in ("TCP", "UDP"):
            chain, used = _stream_chain(f"{key}/{group[0].ir_name}", group[0], placed)
            clusters.update(used)
            ir_listeners.append(Listener(port_listener_name(key, port, protocol), address, port,
                                         bind_port, transport(protocol),
                                         tcp_chains=chain))
            continue
        if protocol == "HTTP":
            config, used = _route_config(f"{key}/{port}", group, placed, tables)
            clusters.update(used)
            configs.append(config)
            ir_listeners.append(Listener(f"{key}/{port}", address, port, bind_port, "HTTP",
                                         route_config=config.name))
            continue
        chains, tcp_chains = [], []
        for ls in sorted(group, key=lambda ls: (specificity(ls.spec.hostname), ls.ir_name)):
            secrets.update((s.name, s) for s in ls.secrets)
            if ls.spec.protocol == "TLS":
                tcp_chains.extend(_tcp_chains(f"{key}/{ls.ir_name}", ls, group, placed))
                for attachment in placed[ls.at].routes():
                    clusters.update(attachment.translated.clusters)
                continue
            config, used = _route_config(f"{key}/{ls.ir_name}", [ls], placed, tables)
            config = _misdirected(config, ls, group)
            clusters.update(used)
            configs.append(config)
            chains.append(TLSFilterChain(f"{key}/{ls.ir_name}",
                                         (ls.spec.hostname,) if ls.spec.hostname else (),
                                         tuple(s.name for s in ls.secrets), config.name,
                                         ls.client_validation))
        ir_listeners.append(Listener(f"{key}/{port}", address, port, bind_port,
                                     "HTTPS" if chains else "TLS", tls_chains=tuple(chains),
                                     tcp_chains=tuple(tcp_chains)))
    return GatewayIR(key, tuple(ir_listeners), tuple(configs), _sorted(clusters.values()),
                     tuple(sorted(secrets.values(), key=lambda s: s.name)))


def _tcp_chains(name: str, ls: ListenerState, port: list[ListenerState],
                placed: Placed) -> list[TCPFilterChain]:
    """One chain per TLSRoute of a TLS listener, for the SNI names this listener is the most
    specific of its port for; an SNI name two routes claim goes to the oldest (then by
    namespace/name). Terminate listeners pass their certificates along."""
    secrets = tuple(s.name for s in ls.secrets)
    claimed: set[str] = set()
    out = []
    for attachment in sorted(placed[ls.at].routes(), key=lambda a: (a.created, a.route)):
        names = [h for h in attachment.hostnames if h not in claimed
                 and (h == "*" or _owner(h, port) is ls)]
        if not names:
            continue
        claimed.update(names)
        out.append(TCPFilterChain(f"{name}/{attachment.route}",
                                  tuple(h for h in names if h != "*"),
                                  attachment.translated.backends, secrets))
    return out


def _stream_chain(name: str, ls: ListenerState, placed: Placed,
                  ) -> tuple[tuple[TCPFilterChain, ...], dict[str, Cluster]]:
    """The chain of a TCP or UDP listener (the only one of its port: without hostnames, two
    conflict), and the clusters it uses: of the routes attached, the oldest (then by
    namespace/name) is served, the others only counted."""
    served = min(placed[ls.at].routes(), key=lambda a: (a.created, a.route), default=None)
    if served is None:
        return (), {}
    return ((TCPFilterChain(f"{name}/{served.route}", (), served.translated.backends),),
            dict(served.translated.clusters))


def _sorted(clusters: Iterable[Cluster]) -> tuple[Cluster, ...]:
    return tuple(sorted(clusters, key=lambda cl: cl.name))
