"""A ClientTrafficPolicy's settings on the IR listeners (ports) of the Gateway it targets.

A ClientTrafficPolicy targets a Gateway or one of its listeners (`sectionName`); Envoy accepts
connections per port, so a port gets the policy of one of its Gateway listeners (the first, in
the Gateway's order, that has one) or else the Gateway's (`sharedport`, which also gives the
other policies a status saying what of them is not applied); an HTTPS Gateway listener is a
filter chain of its own, which takes its own policy's (else the Gateway's) connection manager
and TLS settings when that is not the port's (`TLSFilterChain.own_client`), so only socket
settings and limits are per port there. `timeout.http.requestReceivedTimeout`
becomes the connection manager's request timeout, `timeout.http.idleTimeout` its idle timeout;
`clientIPDetection`, `headers`, `http1`, `http2`, `path`, `tcpKeepalive` and `tls` become the
listener's `ClientSettings`; `tls.clientValidation` the validation of client certificates on
the HTTPS chains of the Gateway listeners it governs (one chain per listener, selected by SNI,
so it is per listener, not per port; read by `clientcerts`, replacing a Gateway's
`tls.frontend`);
`connection.connectionLimit`, `maxAcceptPerSocketEvent` and
`bufferLimit` its limits on connections (`ir.limits.ConnectionLimit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace

from propylon.api.clienttraffic import ClientIP, HeaderEdits, HeaderSettings, Protocols, TLSSettings
from propylon.api.envoygateway import ClientTraffic, Policy, client_traffic
from propylon.ir.model import (
    ChainClient,
    ClientSettings,
    ClientTimeouts,
    ClientValidation,
    DownstreamTLS,
    GatewayIR,
    HeaderMutation,
    HeaderValue,
    Listener,
    TLSFilterChain,
)
from propylon.translate.gateways import GatewayState
from propylon.translate.policies.attachment import Attachments, Scope
from propylon.translate.policies.sharedport import port_policy

# no certificate has this SHA-256: a validation every client fails
REFUSE_ALL = ClientValidation("", certificate_hashes=("00" * 32,))


def governing(ir: GatewayIR, listener: Listener, state: GatewayState, ctp: Attachments,
              ) -> ClientTraffic | None:
    """The settings of the ClientTrafficPolicy governing `listener` (a port), if any."""
    return _usable(_policy(ir, listener, state, ctp))


def chain_governing(ir: GatewayIR, chain: TLSFilterChain, state: GatewayState,
                    ctp: Attachments) -> ClientTraffic | None:
    """The settings of the ClientTrafficPolicy governing one HTTPS `chain`, if any."""
    return _usable(_chain_policy(ir, chain, state, ctp))


def _usable(policy: Policy | None) -> ClientTraffic | None:
    if policy is None or policy.problems:
        return None
    return client_traffic(policy.spec_value())[0]


def _chain_policy(ir: GatewayIR, chain: TLSFilterChain, state: GatewayState,
                  ctp: Attachments) -> Policy | None:
    """The policy of the chain's own Gateway listener, else the Gateway's."""
    ns, name = ir.key.namespace, ir.key.name
    section = next((ls.spec.name for ls in state.listeners
                    if f"{ir.key}/{ls.ir_name}" == chain.name), None)
    scopes = (Scope("Gateway", ns, name, section), Scope("Gateway", ns, name))
    return next((ctp.attached[s] for s in scopes if s in ctp.attached), None)


def _policy(ir: GatewayIR, listener: Listener, state: GatewayState, ctp: Attachments,
            ) -> Policy | None:
    found = port_policy(ctp.attached, (ir.key.namespace, ir.key.name), state.listeners,
                        listener.port)
    return None if found is None else found[1]


def governed(ir: GatewayIR, state: GatewayState, ctp: Attachments,
             validations: Mapping[tuple[str, str], ClientValidation] | None = None,
             ) -> GatewayIR:
    """`ir` with the ClientTrafficPolicies' settings on the listeners they govern (not UDP
    ones: none of the settings concern datagrams, as in Envoy Gateway), and the client
    certificate validation of `validations` (policy key -> validation) on their HTTPS chains
    (`_validated`)."""
    listeners = []
    for listener in ir.listeners:
        listener = _validated(listener, ir, state, ctp, validations or {})
        listener = _own_chains(listener, ir, state, ctp)
        found = None if listener.protocol == "UDP" else governing(ir, listener, state, ctp)
        if found is None:
            listeners.append(listener)
            continue
        if found.connection_limit is not None:
            listener = replace(listener, connection_limit=found.connection_limit)
        own = _chain_client(found)
        if own == ChainClient():
            listeners.append(listener)
            continue
        listeners.append(replace(listener, client_timeouts=own.timeouts, client=own.client))
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))


def _chain_client(found: ClientTraffic | None) -> ChainClient:
    """The connection manager and TLS settings of a policy's `found` settings."""
    if found is None:
        return ChainClient()
    timeouts = ClientTimeouts(found.request_received_ms, found.idle_ms, found.tcp_idle_ms)
    client = settings(found.client_ip, found.headers, found.protocols, found.tls)
    return ChainClient(None if timeouts == ClientTimeouts() else timeouts,
                       None if client == ClientSettings() else client)


def _own_chains(listener: Listener, ir: GatewayIR, state: GatewayState, ctp: Attachments,
                ) -> Listener:
    """`listener` with, on each HTTPS chain whose governing policy (its Gateway listener's,
    else the Gateway's) is not the port's, that policy's connection manager and TLS settings
    (none when no policy governs the chain): one filter chain per Gateway listener, so these
    are per listener, as in Envoy Gateway."""
    if not listener.tls_chains:
        return listener
    port = _policy(ir, listener, state, ctp)
    chains = tuple(
        chain if (policy := _chain_policy(ir, chain, state, ctp)) is port
        else replace(chain, own_client=_chain_client(_usable(policy)))
        for chain in listener.tls_chains)
    if all(a is b for a, b in zip(chains, listener.tls_chains, strict=True)):
        return listener
    return replace(listener, tls_chains=chains)


def _validated(listener: Listener, ir: GatewayIR, state: GatewayState, ctp: Attachments,
               validations: Mapping[tuple[str, str], ClientValidation]) -> Listener:
    """`listener` with `tls.clientValidation` on each HTTPS chain, from the policy of the
    chain's own Gateway listener or else the Gateway's (a chain is one Gateway listener, so
    listeners sharing a port keep their own checks): the policy's validation (`validations`,
    its last good one when its CA refs are unusable now), or, for a policy whose validation
    never was usable, one no certificate passes (`REFUSE_ALL`), so the listener is never
    served without the check it asks for."""
    if not listener.tls_chains:
        return listener
    chains = []
    for chain in listener.tls_chains:
        policy = _chain_policy(ir, chain, state, ctp)
        if policy is not None and '"clientValidation"' in policy.spec:
            chain = replace(chain, client_validation=validations.get(policy.key, REFUSE_ALL))
        chains.append(chain)
    if all(a is b for a, b in zip(chains, listener.tls_chains, strict=True)):
        return listener
    return replace(listener, tls_chains=tuple(chains))


def settings(ip: ClientIP | None, headers: HeaderSettings | None,
             protocols: Protocols | None = None, tls: TLSSettings | None = None,
             ) -> ClientSettings:
    """The IR form of a policy's connection-level settings."""
    ip = ip or ClientIP()
    headers = headers or HeaderSettings()
    return ClientSettings(ip.xff_hops, ip.trusted_cidrs, ip.skip_xff_append, ip.custom_header,
                          ip.fail_closed, _mutation(headers.early_request),
                          _mutation(headers.late_response), headers.preserve_request_id,
                          headers.underscores, **asdict(protocols or Protocols()),
                          tls=None if tls is None else DownstreamTLS(**asdict(tls)),
                          xfcc_mode=headers.xfcc_mode, xfcc_details=headers.xfcc_details)


def _mutation(edits: HeaderEdits | None) -> HeaderMutation | None:
    if edits is None:
        return None

    def values(pairs: tuple[tuple[str, str], ...]) -> tuple[HeaderValue, ...]:
        return tuple(HeaderValue(n, v) for n, v in pairs)

    return HeaderMutation(values(edits.set), values(edits.add), values(edits.add_if_absent),
                          edits.remove, edits.remove_on_match)
