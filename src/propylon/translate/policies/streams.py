"""BackendTrafficPolicies on the TCPRoutes, UDPRoutes and TLSRoutes a Gateway serves.

`governed(ir, state, attachments, copies)` finds the route each chain of a TCP, UDP or TLS
listener serves (a chain is named `<gateway>/<listener>/<route namespace>/<route name>`), the policy
governing it (the route's, else its listener's, else its Gateway's: `Attachments.effective`;
a route-level one with `mergeType` merged over its parent) and points the chain's backends at
copies of their clusters with what applies to L4 routes (`l4fields.applicable`, the cluster
changes of `traffic.cluster_changes`), named as `traffic` names them; the copies are added to
`copies` for the caller to make.
"""

from __future__ import annotations

from dataclasses import replace

from propylon.ir.model import GatewayIR, TCPFilterChain
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.policies import l4fields, traffic
from propylon.translate.policies.attachment import Attachments, Scope
from propylon.translate.policies.traffic import ClusterChanges

_KIND = {"TCP": "TCPRoute", "UDP": "UDPRoute", "TLS": "TLSRoute"}


def governed(ir: GatewayIR, state: GatewayState, attachments: Attachments,
             copies: dict[str, tuple[str, ClusterChanges]]) -> GatewayIR:
    """`ir` with its TCP, UDP and TLS chains using the clusters their policies set (see
    above)."""
    served = {f"{ir.key}/{ls.ir_name}/": ls for ls in state.listeners
              if ls.spec.protocol in _KIND}
    listeners = []
    for li in ir.listeners:
        chains = tuple(_chain(chain, served, ir, attachments, copies)
                       for chain in li.tcp_chains)
        listeners.append(li if all(a is b for a, b in zip(chains, li.tcp_chains, strict=True))
                         else replace(li, tcp_chains=chains))
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))


def _chain(chain: TCPFilterChain, served: dict[str, ListenerState], ir: GatewayIR,
           attachments: Attachments,
           copies: dict[str, tuple[str, ClusterChanges]]) -> TCPFilterChain:
    prefix = max((p for p in served if chain.name.startswith(p)), key=len, default=None)
    if prefix is None:
        return chain
    ls = served[prefix]
    namespace, _, name = chain.name.removeprefix(prefix).partition("/")
    found = attachments.effective((ir.key.namespace, ir.key.name),
                                  None if ls.origin else ls.spec.name,
                                  Scope(_KIND[ls.spec.protocol], namespace, name), None)
    if found is None:
        return chain
    policy, parent = found
    changes = traffic.cluster_changes(l4fields.applicable(traffic.settings(policy, parent)))
    if not changes:
        return chain
    return replace(chain, backends=traffic.copied(chain.backends, policy, changes, copies))
