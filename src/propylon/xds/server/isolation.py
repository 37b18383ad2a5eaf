"""Finding the route entries Envoy refuses in a virtual host, and serving the host without them.

Envoy refuses a virtual host whole when one of its routes is invalid (a regex RE2 refuses, say).
Sent again with every later change of any other route on that hostname, it would be refused
again, and those changes would never be served. So the stream keeps, per virtual host that
Envoy refused when sent alone, a `RouteIsolation`: the routes Envoy accepted in it (`good`, by
a hash of their bytes), those it refused (`bad`: hash -> route name and Envoy's message) and,
while searching, how many untested routes the next attempt carries (`limit`). What is sent is
`effective(host)`: the host's routes in their order, without the bad ones, and with only the
first `limit` untested ones.

After a NACK of the host sent alone (`refused`):
- exactly one untested route was in it: that route is bad;
- more: the next attempt carries the first half of them (a bisection; with no acknowledged
  predecessor every route is untested);
- none: the host itself is refused, not a route of it; `refused` says so and the caller
  rejects the host as a whole.
An ACK (`accepted`) makes every route sent good and ends the search. Each NACK halves the
search or finds a bad route, and each ACK adds at least one good route, so the search ends.
A route whose bytes change is a new, untested route: a corrected route is always tried again.
"""

from __future__ import annotations

import hashlib

from envoy.config.route.v3.route_components_pb2 import Route, VirtualHost
from google.protobuf.message import Message

from propylon.xds.translate import version_of


def _digest(route: Route) -> bytes:
    return hashlib.blake2b(route.SerializeToString(deterministic=True), digest_size=16).digest()


class RouteIsolation:
    """What is known of the routes of one virtual host Envoy refused; see the module
    docstring."""

    def __init__(self, accepted: Message | None) -> None:
        self.good: set[bytes] = set()
        self.bad: dict[bytes, tuple[str, str]] = {}
        self.limit: int | None = None
        self._last: tuple[Message, VirtualHost, str] | None = None
        if isinstance(accepted, VirtualHost):
            self.good.update(map(_digest, accepted.routes))

    @property
    def searching(self) -> bool:
        """Whether the host sent differs from the wanted one (a bad route, or a search)."""
        return bool(self.bad) or self.limit is not None

    def effective(self, wanted: Message) -> tuple[VirtualHost, str]:
        """The host to send for `wanted`, and its version."""
        if self._last is not None and self._last[0] is wanted:
            return self._last[1], self._last[2]
        assert isinstance(wanted, VirtualHost)
        digests = [_digest(r) for r in wanted.routes]
        present = set(digests)
        self.good &= present
        self.bad = {d: v for d, v in self.bad.items() if d in present}
        out = VirtualHost()
        out.CopyFrom(wanted)
        del out.routes[:]
        untested = 0
        for route, digest in zip(wanted.routes, digests, strict=True):
            if digest in self.bad:
                continue
            if digest not in self.good:
                if self.limit is not None and untested >= self.limit:
                    continue
                untested += 1
            out.routes.append(route)
        version = version_of(out)
        self._last = (wanted, out, version)
        return out, version

    def refused(self, sent: Message, message: str) -> bool:
        """Learn from a NACK of `sent` (the host alone); False when no route is to blame."""
        assert isinstance(sent, VirtualHost)
        untested = [r for r in sent.routes if _digest(r) not in self.good]
        self._last = None
        if not untested:
            self.limit = None
            return False
        if len(untested) == 1:
            self.bad[_digest(untested[0])] = (untested[0].name, message)
            self.limit = None
        else:
            self.limit = len(untested) // 2
        return True

    def accepted(self, sent: Message) -> None:
        """Learn from an ACK of `sent`."""
        assert isinstance(sent, VirtualHost)
        self.good.update(map(_digest, sent.routes))
        self.limit = None
        self._last = None

    def refused_routes(self) -> dict[str, str]:
        """Route name -> Envoy's message, for the routes left out."""
        return dict(self.bad.values())
