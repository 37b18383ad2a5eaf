"""`limit-rps`, `limit-rpm`, `limit-burst-multiplier`, `limit-connections`,
`limit-allowlist` (`limit-whitelist`), `limit-rate`, `limit-rate-after`: request rate limits
as a BackendTrafficPolicy Local `rateLimit`; the rest is not convertible.

ingress-nginx limits the requests of each client address (nginx `limit_req` keyed by the
address) to `limit-rps` a second and `limit-rpm` a minute, lets bursts of the rate times
`limit-burst-multiplier` (5) through, and answers 503 above it (`limit-req-status-code`).
Converted: one rule per rate whose client selector is the source address, `Distinct` (one
bucket per address, IPv4 and IPv6; the address is X-Forwarded-For's when the ingress-nginx
ConfigMap trusts it, `sourcerange.client_ip`). Envoy's 429 is answered as
`limit-req-status-code`, with nginx's page, by a responseOverride of the 429s carrying
`x-ratelimit-remaining: 0`. What differs: Envoy's bucket holds the rate, so the burst is the
rate (not rate × multiplier), and a backend's own 429 carrying `x-ratelimit-remaining: 0` is
answered as the gateway's.
Not convertible: `limit-connections` (concurrent connections per client address: Envoy
Gateway's connection limit counts a listener's connections of all clients), `limit-allowlist`
(addresses exempt from the limit: a Local rate limit cannot exempt addresses) and `limit-rate`
/ `limit-rate-after` (response bandwidth per connection: Envoy Gateway has no bandwidth
limit).
"""

from __future__ import annotations

from typing import Any

from propylon.ingress.annotations.policyparts import (
    DIFFERS,
    REFUSED,
    Made,
    Note,
    family,
    nginx_page,
)
from propylon.ingress.annotations.sourcerange import client_ip
from propylon.ingress.effects import Context, Policy

ANNOTATIONS = ("limit-rps", "limit-rpm", "limit-burst-multiplier", "limit-connections",
               "limit-allowlist", "limit-whitelist", "limit-rate", "limit-rate-after")
REFUSALS = {
    "limit-connections": "not convertible: Envoy Gateway limits the connections of a listener "
                         "(ClientTrafficPolicy connectionLimit, all clients together), not of "
                         "each client address",
    "limit-allowlist": "not convertible: a Local rate limit cannot exempt addresses: put the "
                       "exempt clients behind another Ingress without limit-rps",
    "limit-whitelist": "not convertible: a Local rate limit cannot exempt addresses: put the "
                       "exempt clients behind another Ingress without limit-rps",
    "limit-rate": "not convertible: Envoy Gateway has no response bandwidth limit",
    "limit-rate-after": "not convertible: Envoy Gateway has no response bandwidth limit",
}
_EVERY_ADDRESS = ("0.0.0.0/0", "::/0")
_DIFFERENCE = ("BackendTrafficPolicy rateLimit (Local, one bucket per client address), a "
               "refused request answered with limit-req-status-code ({status}) and nginx's "
               "page; differs: a burst is the rate itself, not the rate times "
               "limit-burst-multiplier")
TOO_MANY = 429  # what Envoy's local rate limit answers
DEFAULT_STATUS = 503  # ingress-nginx's limit-req-status-code


def made(ctx: Context) -> Made:
    """The rate limits of an Ingress."""
    annotations = ctx.annotations
    notes = [Note(name, REFUSED, REFUSALS[name]) for name in ANNOTATIONS
             if name in REFUSALS and name in annotations]
    rules: list[dict[str, Any]] = []
    for name, unit in (("limit-rps", "Second"), ("limit-rpm", "Minute")):
        if name not in annotations:
            continue
        value = annotations[name].strip()
        if not value.isdigit() or int(value) == 0:
            notes.append(Note(name, DIFFERS, f"{value!r} is not a positive number: no limit, "
                              "as ingress-nginx ignores it"))
            continue
        notes.append(Note(name, DIFFERS, _DIFFERENCE.format(status=_status(ctx))))
        rules.extend({"clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": cidr}}],
                      "limit": {"requests": int(value), "unit": unit}}
                     for cidr in _EVERY_ADDRESS)
    if "limit-burst-multiplier" in annotations:
        notes.append(Note("limit-burst-multiplier", DIFFERS, "no effect: Envoy's bucket holds "
                          "the rate itself (no burst beyond it)"))
    if not rules:
        return Made(notes=tuple(notes))
    spec: dict[str, Any] = {"rateLimit": {"type": "Local", "local": {"rules": rules}}}
    status = _status(ctx)
    if status != TOO_MANY:
        spec["responseOverride"] = [{"match": {
            "statusCodes": [{"type": "Value", "value": TOO_MANY}],
            "responseHeaders": [{"name": "x-ratelimit-remaining",
                                 "value": {"type": "Exact", "value": "0"}}]},
            "response": nginx_page(status)}]
    limit = Policy("BackendTrafficPolicy", spec)
    return Made((limit, *client_ip(ctx)), tuple(notes))


def _status(ctx: Context) -> int:
    """The ConfigMap's `limit-req-status-code` (a 4xx or 5xx), else 503."""
    value = ctx.config.get("limit-req-status-code", "").strip()
    return int(value) if value.isdigit() and 400 <= int(value) <= 599 else DEFAULT_STATUS


CONVERTERS = family(ANNOTATIONS, made)
