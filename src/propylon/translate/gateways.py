"""Gateways and their listeners: what is accepted, what conflicts, what is programmed.

`evaluate(...)` looks at one Gateway of an accepted class of ours, before routes: each listener's
protocol (HTTP, HTTPS, TLS in mode Passthrough or Terminate, TCP and UDP), its route kinds, its
certificates, and conflicts between listeners sharing a port (ProtocolConflict when protocols
differ, except HTTPS and TLS, which SNI tells apart; HostnameConflict when the hostname
repeats). UDP ports are other sockets than TCP ports: a UDP listener conflicts only with UDP
listeners of its port number (`transport`). `GatewayState` and `ListenerState` are frozen: each step returns new states
(`dataclasses.replace`); only their `conditions` collect conditions until `status`. Routes then
attach to the usable listeners (`placements.Placements`, by the listener's `at`).
`status(...)` finishes the job once routes are attached and the infrastructure state is known:
addresses, Programmed per listener (the port must be served, and Envoy must not have refused
it or its certificates: `refuse_listener`) and for the Gateway (an address, then what
`program_parent` decides for Gateways and ListenerSets alike: at least one programmed listener
and a ready proxy), attachedRoutes, and Accepted for the Gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from propylon.api.core import ConfigMap, Secret
from propylon.api.gateway import GROUP, Gateway, Listener, RouteKind
from propylon.api.meta import StoredCondition, status_conditions, stored_conditions
from propylon.ir.model import (
    ClientValidation,
    GatewayKey,
    InfraState,
    PortState,
    Rejections,
    transport,
)
from propylon.ir.model import Secret as SecretIR
from propylon.translate import conditions as c
from propylon.translate import frontend
from propylon.translate.placements import ListenerId, Placements
from propylon.translate.references import Grants
from propylon.translate.statuses import GatewayStatus, ListenerStatus
from propylon.translate.tls import CertificateError, resolve_certificates
from propylon.translate.types import Now, StatusUpdate

SUPPORTED_PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "UDP")
ROUTE_KINDS = {"HTTP": ("HTTPRoute", "GRPCRoute"), "HTTPS": ("HTTPRoute", "GRPCRoute"),
               "TLS": ("TLSRoute",), "TCP": ("TCPRoute",), "UDP": ("UDPRoute",)}
TLS_MODES = {"HTTPS": ("Terminate",), "TLS": ("Passthrough", "Terminate")}
# Protocols that may share a port: connections are told apart by SNI.
SNI_PROTOCOLS = frozenset({"HTTPS", "TLS"})


@dataclass(frozen=True)
class ListenerState:
    """One listener as evaluated before routes; its conditions are completed by `status`."""

    spec: Listener
    at: ListenerId  # the listener's name across passes: its owner and position there
    conditions: c.Conditions
    supported_kinds: tuple[str, ...]
    secrets: tuple[SecretIR, ...] = ()
    usable: bool = True  # routes may attach
    servable: bool = True  # may be programmed (valid, no conflict, certificates resolved)
    client_validation: ClientValidation | None = None  # HTTPS: spec.tls.frontend of its port

    @property
    def origin(self) -> str:
        """"<namespace>/<name>" of the ListenerSet declaring it; "" for the Gateway's."""
        kind, (namespace, name), _ = self.at
        return f"{namespace}/{name}" if kind == "ListenerSet" else ""

    @property
    def ir_name(self) -> str:
        """A name unique within the Gateway (ListenerSets may reuse the Gateway's names)."""
        return f"{self.origin}/{self.spec.name}" if self.origin else self.spec.name


@dataclass(frozen=True)
class GatewayState:
    """One Gateway of ours as evaluated before routes."""

    obj: dict[str, Any]
    gateway: Gateway
    listeners: list[ListenerState]
    accepted: bool
    accepted_reason: str
    accepted_message: str
    listener_sets: tuple[Any, ...] = ()  # accepted listenersets.SetState, in precedence order
    # spec.tls.backend.clientCertificateRef resolved (None: the Gateway has none)
    backend_certificate: SecretIR | CertificateError | None = None


def evaluate(obj: dict[str, Any], gw: Gateway, secrets: Mapping[tuple[str, str], Secret],
             grants: Grants, now: Now,
             config_maps: Mapping[tuple[str, str], ConfigMap] | None = None) -> GatewayState:
    previous = {li.get("name"): stored_conditions(li.get("conditions"))
                for li in (obj.get("status") or {}).get("listeners") or () if isinstance(li, dict)}
    owner = (gw.meta.namespace, gw.meta.name)
    states = [listener_state(li, ("Gateway", owner, i), gw.meta.generation,
                             previous.get(li.name, ()), secrets, grants, now)
              for i, li in enumerate(gw.listeners)]
    states = _conflicts(frontend.apply(states, gw, config_maps or {}, grants))
    for state in states:
        if state.conditions.status(c.ACCEPTED) is None:
            state.conditions.set(c.ACCEPTED, True, "Accepted", "the listener is valid")
    unsupported = [a for a in gw.addresses if a.type != "IPAddress"]
    if unsupported:
        kinds = ", ".join(sorted({a.type for a in unsupported}))
        return GatewayState(obj, gw, states, False, c.UNSUPPORTED_ADDRESS,
                            f"spec.addresses of type {kinds} are not supported: use type IPAddress "
                            "or remove them")
    if not any(s.usable for s in states):
        return GatewayState(obj, gw, states, False, c.LISTENERS_NOT_VALID,
                            "no listener is valid: see the listeners' conditions")
    if not all(s.usable for s in states):
        return GatewayState(obj, gw, states, True, c.LISTENERS_NOT_VALID,
                            "some listeners are not valid and are not served: see their conditions")
    return GatewayState(obj, gw, states, True, "Accepted", "the Gateway is accepted")


def listener_state(li: Listener, at: ListenerId, generation: int,
                   previous: tuple[StoredCondition, ...],
                   secrets: Mapping[tuple[str, str], Secret], grants: Grants,
                   now: Now) -> ListenerState:
    """One listener of a Gateway or of a ListenerSet (`at`: its kind, namespace and name, the
    listener's position), on its own: protocol, route kinds, certificates. Conflicts are decided
    afterwards."""
    owner_kind, (namespace, _), _ = at
    conds = c.Conditions(previous, generation, now)
    allowed = ROUTE_KINDS.get(li.protocol, ())
    wanted = li.kinds if li.kinds is not None else tuple(
        RouteKind(GROUP, k) for k in allowed)
    kinds = tuple(k.kind for k in wanted if k.group == GROUP and k.kind in allowed)
    usable = servable = True
    secrets_found: tuple[SecretIR, ...] = ()
    if li.protocol not in SUPPORTED_PROTOCOLS:
        conds.set(c.ACCEPTED, False, c.UNSUPPORTED_PROTOCOL,
                  f'protocol "{li.protocol}" is not supported: use HTTP, HTTPS, TLS, TCP or UDP')
        usable = servable = False
    invalid_kinds = [f"{k.group}/{k.kind}" for k in wanted if k.group != GROUP or k.kind not in allowed]
    if invalid_kinds:
        conds.set(c.RESOLVED_REFS, False, c.INVALID_ROUTE_KINDS,
                  f"route kinds {', '.join(invalid_kinds)} are not supported on a {li.protocol} "
                  f"listener: allowed are {', '.join(allowed) or 'none'}")
    if li.protocol in TLS_MODES and usable:
        modes = TLS_MODES[li.protocol]
        if (li.tls_mode or "Terminate") not in modes:
            conds.set(c.ACCEPTED, False, c.UNSUPPORTED_PROTOCOL,
                      f'tls mode "{li.tls_mode}" is not supported for {li.protocol}: use '
                      f'{" or ".join(modes)}')
            usable = servable = False
        elif li.tls_mode != "Passthrough":
            certs = resolve_certificates(li.name, namespace, li.certificate_refs, secrets,
                                         grants, owner_kind)
            if isinstance(certs, CertificateError):
                conds.set(c.RESOLVED_REFS, False, certs.reason, certs.message)
                servable = False
            else:
                secrets_found = certs
    if conds.status(c.RESOLVED_REFS) is None:
        conds.set(c.RESOLVED_REFS, True, "ResolvedRefs", "all references are resolved")
    return ListenerState(li, at, conds, tuple(dict.fromkeys(kinds)), secrets_found, usable,
                         servable)


def _conflicts(states: list[ListenerState]) -> list[ListenerState]:
    """`states`, those conflicting with another listener of their port no longer usable."""
    by_port: dict[tuple[int, str], list[ListenerState]] = {}
    for s in states:
        if s.usable:
            by_port.setdefault((s.spec.port, transport(s.spec.protocol)), []).append(s)
    for (port, _), group in by_port.items():
        protocols = sorted({s.spec.protocol for s in group})
        seen: set[str | None] = set()
        for s in group:
            if len(protocols) > 1 and not SNI_PROTOCOLS.issuperset(protocols):
                s.conditions.set(c.CONFLICTED, True, c.PROTOCOL_CONFLICT,
                                 f"port {port} is used with protocols {', '.join(protocols)}: "
                                 "use one protocol per port")
            elif s.spec.hostname in seen:
                s.conditions.set(c.CONFLICTED, True, c.HOSTNAME_CONFLICT,
                                 f"another listener on port {port} has hostname "
                                 f'"{s.spec.hostname or "*"}": give each a distinct hostname')
            else:
                s.conditions.set(c.CONFLICTED, False, c.NO_CONFLICTS, "no conflicts")
            seen.add(s.spec.hostname)
    return [replace(s, usable=False, servable=False) if s.conditions.status(c.CONFLICTED) else s
            for s in states]


def port_listener_name(key: GatewayKey, port: int, protocol: str) -> str:
    """The name of the Envoy listener serving `port` for a listener `protocol`: one per TCP
    port, one per UDP port (a TCP and a UDP listener may share a port number)."""
    return f"{key}/{port}/udp" if transport(protocol) == "UDP" else f"{key}/{port}"


def port_state(infra: InfraState | None, port: int) -> PortState | None:
    if infra is None:
        return None
    return next((p for p in infra.ports if p.port == port), None)


def status(state: GatewayState, placements: Mapping[ListenerId, Placements],
           infra: InfraState | None, now: Now,
           rejections: Rejections | None = None) -> StatusUpdate:
    gw = state.gateway
    conds = c.Conditions(status_conditions(state.obj), gw.meta.generation, now)
    conds.set(c.ACCEPTED, state.accepted, state.accepted_reason, state.accepted_message)
    address = infra.address if infra is not None else None
    listeners = []
    for ls in state.listeners:
        program_listener(ls, state.accepted, address, port_state(infra, ls.spec.port))
        refuse_listener(ls, GatewayKey(gw.meta.namespace, gw.meta.name), rejections)
        listeners.append(listener_status(ls, placements))
    if not state.accepted:
        conds.set(c.PROGRAMMED, False, c.INVALID, "the Gateway is not accepted: see Accepted")
    elif address is None and infra is not None and infra.address_unusable:
        conds.set(c.PROGRAMMED, False, c.ADDRESS_NOT_USABLE, infra.message)
    elif address is None:
        conds.set(c.PROGRAMMED, False, c.ADDRESS_NOT_ASSIGNED,
                  (infra.message if infra is not None and infra.message
                   else "no address has been assigned to the Gateway yet"))
    else:
        program_parent(conds, "Gateway", state.listeners, infra)
    if isinstance(state.backend_certificate, CertificateError):
        conds.set(c.RESOLVED_REFS, False, state.backend_certificate.reason,
                  state.backend_certificate.message)
    elif state.backend_certificate is not None:
        conds.set(c.RESOLVED_REFS, True, "ResolvedRefs", "all references are resolved")
    if any(ls.client_validation is not None and ls.client_validation.optional
           for ls in state.listeners):
        conds.set(frontend.INSECURE_MODE_CONDITION, True, "ConfigurationChanged",
                  "client certificate validation allows clients without a valid certificate "
                  "(AllowInsecureFallback)")
    body = GatewayStatus(
        conds.as_tuple(), tuple(listeners),
        (address,) if address is not None and state.accepted else (),
        len(state.listener_sets) if gw.listener_sets_from != "None" else None)
    return StatusUpdate(str(state.obj.get("apiVersion", "gateway.networking.k8s.io/v1")), "Gateway",
                        gw.meta.namespace, gw.meta.name, gw.meta.generation, body)


def listener_status(ls: ListenerState, placements: Mapping[ListenerId, Placements],
                    ) -> ListenerStatus:
    """The status of a listener of a Gateway or of a ListenerSet, its conditions complete."""
    return ListenerStatus(ls.spec.name, ls.supported_kinds, placements[ls.at].attached,
                          ls.conditions.as_tuple())


def refuse_listener(ls: ListenerState, key: GatewayKey, rejections: Rejections | None) -> None:
    """Write into `ls` what Envoy refused of it (after its Programmed condition is set)."""
    if not rejections:
        return
    for secret in ls.secrets:
        message = rejections.secrets.get(secret.name)
        if message is not None:
            ls.conditions.set(c.RESOLVED_REFS, False, c.INVALID_CERTIFICATE_REF,
                              f'Envoy refused certificate Secret "{secret.name}": {message}; '
                              "fix the Secret (its key must match its certificate)")
            ls.conditions.set(c.PROGRAMMED, False, c.INVALID,
                              f'Envoy refused certificate Secret "{secret.name}": see ResolvedRefs')
            return
    message = rejections.listeners.get(port_listener_name(key, ls.spec.port, ls.spec.protocol))
    if message is not None:
        ls.conditions.set(c.PROGRAMMED, False, c.INVALID,
                          f"Envoy refused the listener of port {ls.spec.port}: {message}")


def program_parent(conds: c.Conditions, kind: str, listeners: list[ListenerState],
                   infra: InfraState | None) -> None:
    """Programmed of an accepted Gateway with an address, or of an accepted ListenerSet (`kind`):
    at least one of its `listeners` programmed, and the Gateway's proxy ready."""
    proxy = "the proxy" if kind == "Gateway" else "the Gateway's proxy"
    if not any(ls.conditions.status(c.PROGRAMMED) for ls in listeners):
        conds.set(c.PROGRAMMED, False, c.INVALID,
                  "no listener is programmed: see the listeners' conditions")
    elif infra is None or not infra.ready:
        why = f": {infra.message}" if infra is not None and infra.message else ""
        conds.set(c.PROGRAMMED, False, c.PENDING, f"waiting for {proxy} to become ready{why}")
    else:
        conds.set(c.PROGRAMMED, True, "Programmed", f"the {kind} is programmed")


def program_listener(ls: ListenerState, accepted: bool, address: str | None,
                      port: PortState | None) -> None:
    conds = ls.conditions
    if not ls.servable or not accepted:
        conds.set(c.PROGRAMMED, False, c.INVALID, "the listener is not valid: see its conditions")
    elif address is None:
        conds.set(c.PROGRAMMED, False, c.PENDING, "waiting for the Gateway to get an address")
    elif port is not None and port.error is not None:
        conds.set(c.PROGRAMMED, False, c.PENDING,
                  f"port {ls.spec.port} cannot be served: {port.error}")
    elif port is not None and port.bind_port is not None and port.bind_port != port.port:
        conds.set(c.PROGRAMMED, True, "Programmed",
                  f"the listener is programmed; port {port.port} is served on port "
                  f"{port.bind_port} of {address} (privileged port mapped for a non-root user)")
    else:
        conds.set(c.PROGRAMMED, True, "Programmed", "the listener is programmed")


def all_listeners(state: GatewayState) -> list[ListenerState]:
    """The Gateway's listeners merged with those of its accepted ListenerSets, in precedence
    order."""
    return [*state.listeners, *(ls for ls_set in state.listener_sets for ls in ls_set.listeners)]


def servable_listeners(state: GatewayState, infra: InfraState) -> list[ListenerState]:
    """Listeners that go into the IR: valid, not conflicted, and their port bound; the Gateway's
    own first, then those of its accepted ListenerSets."""
    out = []
    for ls in all_listeners(state):
        ps = port_state(infra, ls.spec.port)
        if ls.servable and state.accepted and not (ps is not None and ps.error is not None):
            out.append(ls)
    return out
