"""A ClientTrafficPolicy's settings on the IR listeners (ports) of the Gateway it targets.

A ClientTrafficPolicy targets a Gateway or one of its listeners (`sectionName`); Envoy accepts
connections per port, so a port gets the policy of one of its Gateway listeners (the first, in
the Gateway's order, that has one) or else the Gateway's. `timeout.http.requestReceivedTimeout`
becomes the connection manager's request timeout, `timeout.http.idleTimeout` its idle timeout,
`connection.connectionLimit` and `maxAcceptPerSocketEvent` the listener's limits on
connections.
"""

from __future__ import annotations

from dataclasses import replace

from propylon.api.envoygateway import ClientTraffic, client_traffic
from propylon.ir.model import ClientTimeouts, GatewayIR, Listener
from propylon.translate.gateways import GatewayState
from propylon.translate.policies import limits
from propylon.translate.policies.attachment import Attachments, Scope


def settings(ir: GatewayIR, listener: Listener, state: GatewayState, ctp: Attachments,
             ) -> ClientTraffic | None:
    """The settings of the ClientTrafficPolicy governing `listener` (a port), if any."""
    ns, name = ir.key.namespace, ir.key.name
    scopes = [Scope("Gateway", ns, name, ls.spec.name) for ls in state.listeners
              if ls.spec.port == listener.port]
    policy = next((ctp.attached[s] for s in (*scopes, Scope("Gateway", ns, name))
                   if s in ctp.attached), None)
    if policy is None or policy.problems:
        return None
    return client_traffic(policy.spec_value())[0]


def governed(ir: GatewayIR, state: GatewayState, ctp: Attachments) -> GatewayIR:
    """`ir` with the ClientTrafficPolicies' timeouts on the listeners they govern."""
    listeners = []
    for listener in ir.listeners:
        found = settings(ir, listener, state, ctp)
        if found is None:
            listeners.append(listener)
            continue
        timeouts = ClientTimeouts(found.request_received_ms, found.idle_ms)
        if timeouts != ClientTimeouts():
            listener = replace(listener, client_timeouts=timeouts)
        if found.connection_limit is not None:
            listener = replace(listener, connection_limit=limits.to_ir(found.connection_limit))
        listeners.append(listener)
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))
