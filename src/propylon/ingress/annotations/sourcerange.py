"""`allowlist-source-range` (and its old name `whitelist-source-range`) and
`denylist-source-range`: a SecurityPolicy `authorization` on the client's address.

ingress-nginx answers 403 to a client outside the allow list, or inside the deny list (the
deny list is checked first). The client address is the connection's source unless the
controller trusts X-Forwarded-For (`use-forwarded-headers` in its ConfigMap, converted by
`client_ip` into a ClientTrafficPolicy `clientIPDetection` of the Gateway); Envoy Gateway's
authorization reads the same detected address. A bare address is a /32 (or /128) range, as in
ingress-nginx; a list with an item that is no address (and no bare address, ingress-nginx's
parser's quirk) makes ingress-nginx deny the location (503), and the converter does the same.
"""

from __future__ import annotations

import ipaddress

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    Made,
    Note,
    answer_all,
    family,
)
from propylon.ingress.annotations.policyvalues import boolean
from propylon.ingress.effects import Context, Policy

_NONE: tuple[tuple[str, ...], list[str], bool] = ((), [], False)  # a list not given
DEFAULT_REAL_IP_CIDRS = ("0.0.0.0/0",)  # ingress-nginx's proxy-real-ip-cidr
ANNOTATIONS = ("allowlist-source-range", "whitelist-source-range", "denylist-source-range")


def made(ctx: Context) -> Made:
    """The address lists of an Ingress, and the client address detection of the
    ingress-nginx ConfigMap's `use-forwarded-headers` they rely on."""
    annotations = ctx.annotations
    present = [name for name in ANNOTATIONS if name in annotations]
    if not present:
        return Made()
    allow_from = ("allowlist-source-range" if "allowlist-source-range" in annotations
                  else "whitelist-source-range")
    allow, bad_allow, denies_allow = _cidrs(annotations[allow_from]) \
        if allow_from in annotations else _NONE
    deny, bad_deny, denies_deny = _cidrs(annotations["denylist-source-range"]) \
        if "denylist-source-range" in annotations else _NONE
    rules = []
    if deny:
        rules.append({"name": "denylist-source-range", "action": "Deny",
                      "principal": {"clientCIDRs": list(deny)}})
    if allow:
        rules.append({"name": "allowlist-source-range", "action": "Allow",
                      "principal": {"clientCIDRs": list(allow)}})
    notes = []
    for name in present:
        bad, denies = ((bad_deny, denies_deny) if name == "denylist-source-range"
                       else (bad_allow, denies_allow))
        if name == "whitelist-source-range" and allow_from != name:
            notes.append(Note(name, CONVERTED, "overridden by allowlist-source-range, as in "
                              "ingress-nginx"))
        elif denies:
            notes.append(Note(name, CONVERTED, f"{', '.join(bad)} is not an address or CIDR "
                              "range: every request is answered 503, as ingress-nginx denies "
                              "the location; fix the list"))
        elif bad:
            notes.append(Note(name, CONVERTED, f"SecurityPolicy authorization; {', '.join(bad)} "
                              "is not an address or CIDR range: ignored, as ingress-nginx "
                              "ignores it beside a bare address"))
        else:
            notes.append(Note(name, CONVERTED, "SecurityPolicy authorization (403 outside the "
                              "allowed ranges or inside the denied ones)"))
    effects = client_ip(ctx)
    if denies_allow or denies_deny:
        effects += (answer_all(503),)
    elif rules:
        effects += (Policy("SecurityPolicy", {"authorization": {
            "defaultAction": "Deny" if allow else "Allow", "rules": rules}}),)
    return Made(effects, tuple(notes))


def client_ip(ctx: Context) -> tuple[Policy, ...]:
    """`use-forwarded-headers: "true"` in ingress-nginx's ConfigMap: the client address is
    taken from X-Forwarded-For, walking it from the right past the addresses of
    `proxy-real-ip-cidr` (default 0.0.0.0/0, so the leftmost address), as nginx's real IP
    module does (a ClientTrafficPolicy of the Gateway)."""
    if boolean(ctx.config.get("use-forwarded-headers", "")) is not True:
        return ()
    trusted = _cidrs(ctx.config["proxy-real-ip-cidr"])[0] \
        if "proxy-real-ip-cidr" in ctx.config else ()
    return (Policy("ClientTrafficPolicy", {"clientIPDetection": {"xForwardedFor": {
        "trustedCIDRs": list(trusted or DEFAULT_REAL_IP_CIDRS)}}}, target="gateway"),)


CONVERTERS = family(ANNOTATIONS, made)


def _cidrs(value: str) -> tuple[tuple[str, ...], list[str], bool]:
    """The ranges of a list, its items that are no address or range, and whether they deny
    the location: as ingress-nginx's parser, such an item is ignored when the list holds a
    bare address, and otherwise (or for a blank list) denies the location."""
    good, bad, bare = [], [], False
    for item in (item.strip() for item in value.split(",")):
        try:
            good.append(str(ipaddress.ip_network(item, strict=False)))
            bare = bare or "/" not in item
        except ValueError:
            bad.append(item or "(blank)")
    return tuple(good), bad, bool(bad) and not bare
