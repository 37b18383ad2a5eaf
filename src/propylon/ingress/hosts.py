"""ingress-nginx's per-host merge: all Ingresses of one class and host make one nginx server.

What one Ingress cannot decide alone is decided here, over every Ingress of its host:

- regex paths: `use-regex: "true"` or a `rewrite-target` on any Ingress of a host makes every
  path of the host a case-insensitive regex location (`~* "^<path>"`), tried longest path first;
- TLS: a host is HTTPS when any Ingress of the class lists it in `spec.tls` (the oldest such
  Ingress's Secret serves it, as ingress-nginx takes the first);
- canaries: a canary Ingress's paths join the mainline Ingress's rule of the same host and path;
- the root: an Ingress's `defaultBackend` serves `/` of its hosts when no Ingress of the host
  defines `/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from propylon.ingress.effects import Effect, settings
from propylon.ingress.model import TLS, Ingress


@dataclass(frozen=True)
class Converted:
    """One Ingress of a class with the effects of its annotations."""
    class_name: str
    ingress: Ingress
    effects: tuple[Effect, ...]

    @property
    def settings(self) -> Mapping[str, str]:
        return settings(self.effects)

    @property
    def canary(self) -> bool:
        return self.settings.get("canary") == "true"


@dataclass(frozen=True)
class Host:
    class_name: str
    host: str
    regex: bool
    tls: tuple[tuple[str, TLS], ...]   # (Ingress namespace, TLS section) serving it, first wins
    roots: frozenset[str]              # "/" paths the host's mainline Ingresses define


def regex_wanted(conv: Converted) -> bool:
    return conv.settings.get("use-regex") == "true" or "rewrite-target" in conv.settings


def covers(tls_host: str, host: str) -> bool:
    """Whether a TLS host (a listener's hostname) serves `host`: `*.example.com` covers the
    names under example.com, as nginx's and the Gateway API's wildcards do."""
    if tls_host.startswith("*."):
        return host.endswith(tls_host[1:]) and len(host) > len(tls_host) - 1
    return tls_host == host


def tls_hosts(ing: Ingress) -> tuple[tuple[str, TLS], ...]:
    """(host, TLS section) pairs; a section without hosts covers the Ingress's rule hosts."""
    return tuple((host, t) for t in ing.tls for host in (t.hosts or ing.hosts) if host)


def hosts(convs: tuple[Converted, ...]) -> Mapping[tuple[str, str], Host]:
    out: dict[tuple[str, str], Host] = {}
    for conv in convs:
        for rule in conv.ingress.rules:
            key = (conv.class_name, rule.host)
            if key in out:
                continue
            same = [c for c in convs if c.class_name == conv.class_name
                    and rule.host in c.ingress.hosts]
            tls = tuple((c.ingress.namespace, t) for c in convs if c.class_name == conv.class_name
                        for h, t in tls_hosts(c.ingress) if covers(h, rule.host))
            roots = frozenset(p.path for c in same if not c.canary for r in c.ingress.rules
                              if r.host == rule.host for p in r.paths if p.path == "/")
            out[key] = Host(conv.class_name, rule.host, any(regex_wanted(c) for c in same),
                            tls, roots)
    return out
