"""`allowlist-source-range` (and its old name `whitelist-source-range`) and
`denylist-source-range`: a SecurityPolicy `authorization` on the client's address.

ingress-nginx answers 403 to a client outside the allow list, or inside the deny list (the
deny list is checked first). The client address is the connection's source unless the
controller trusts X-Forwarded-For (`use-forwarded-headers` in its ConfigMap, converted by
`controller_config` into a ClientTrafficPolicy `clientIPDetection`); Envoy Gateway's
authorization reads the same detected address. A bare address is a /32 (or /128) range, as in
ingress-nginx; an item that is no address is dropped and reported, as ingress-nginx refuses it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from propylon.ingress.policyparts import CONVERTED, DIFFERS, Converted, Note, policy
from propylon.ingress.policyvalues import boolean, items

ANNOTATIONS = ("allowlist-source-range", "whitelist-source-range", "denylist-source-range")


def convert(annotations: Mapping[str, str]) -> Converted:
    """The address lists of an Ingress's annotations (short names)."""
    present = [name for name in ANNOTATIONS if name in annotations]
    if not present:
        return Converted()
    allow_from = ("allowlist-source-range" if "allowlist-source-range" in annotations
                  else "whitelist-source-range")
    allow, bad_allow = _cidrs(annotations.get(allow_from, ""))
    deny, bad_deny = _cidrs(annotations.get("denylist-source-range", ""))
    rules = []
    if deny:
        rules.append({"name": "denylist-source-range", "action": "Deny",
                      "principal": {"clientCIDRs": list(deny)}})
    if allow:
        rules.append({"name": "allowlist-source-range", "action": "Allow",
                      "principal": {"clientCIDRs": list(allow)}})
    notes = []
    for name in present:
        bad = bad_deny if name == "denylist-source-range" else bad_allow
        if name == "whitelist-source-range" and allow_from != name:
            notes.append(Note(name, CONVERTED, "overridden by allowlist-source-range, as in "
                              "ingress-nginx"))
        elif bad:
            notes.append(Note(name, DIFFERS, f"SecurityPolicy authorization; {', '.join(bad)} "
                              "not an address or CIDR range: dropped"))
        else:
            notes.append(Note(name, CONVERTED, "SecurityPolicy authorization (403 outside the "
                              "allowed ranges or inside the denied ones)"))
    if not rules:
        return Converted(notes=tuple(notes))
    action = "Deny" if allow else "Allow"
    return policy("SecurityPolicy", {"authorization": {"defaultAction": action,
                                                       "rules": rules}}, notes)


def controller_config(data: Mapping[str, str]) -> Converted:
    """`use-forwarded-headers` of ingress-nginx's ConfigMap: trust X-Forwarded-For's last
    address (a ClientTrafficPolicy for the Gateway)."""
    if boolean(data.get("use-forwarded-headers", "")) is not True:
        return Converted()
    return policy("ClientTrafficPolicy",
                  {"clientIPDetection": {"xForwardedFor": {"numTrustedHops": 1}}},
                  [Note("use-forwarded-headers", CONVERTED,
                        "ClientTrafficPolicy clientIPDetection.xForwardedFor (one trusted "
                        "hop)")])


def _cidrs(value: str) -> tuple[tuple[str, ...], list[str]]:
    good, bad = [], []
    for item in items(value):
        try:
            good.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            bad.append(item)
    return tuple(good), bad
