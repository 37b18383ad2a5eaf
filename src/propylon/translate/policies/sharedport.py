"""Which ClientTrafficPolicy sets a port's settings when Gateway listeners share the port.

Gateway listeners on one port are one Envoy listener: its socket settings, connection limits,
and (for plain HTTP, one connection manager for all of them) its connection manager settings
belong to the port, not to one Gateway listener. `port_policy(attached, gateway, listeners,
port)` gives the policy that sets them: that of the first listener of the port, in the Gateway's
order, that has a policy of its own, else the Gateway's (as Envoy Gateway builds a shared Envoy
listener from the first Gateway listener of its port). An HTTPS listener is a filter chain of
its own (selected by SNI): every setting but `connection` and `tcpKeepalive` (`PORT_WIDE`) is
its own policy's there (`client._own_chains`, `client._validated`).

`conflicts(attached, gateways)` says what that costs the other policies, so their status does
not claim what Envoy does not serve: per policy key and Gateway (ancestor), the condition
(status, reason, message) naming the fields not applied, the port, and the listener whose policy
sets them:
- a listener's policy that does not set its port: Accepted False, reason Conflicted;
- a Gateway's policy that does not set a port where some of its listeners have no policy of
  their own: Overridden True, naming those listeners.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from propylon.api.envoygateway import Policy
from propylon.translate.gateways import GatewayState, ListenerState
from propylon.translate.policies.attachment import Condition, Scope

Key = tuple[str, str]
PER_LISTENER = "tls.clientValidation"
PORT_WIDE = ("connection", "tcpKeepalive")  # socket options and limits of the Envoy listener


def port_policy(attached: Mapping[Scope, Policy], gateway: Key,
                listeners: Iterable[ListenerState], port: int) -> tuple[Scope, Policy] | None:
    """The scope and policy setting `port`'s settings (see the module docstring), if any."""
    scopes = [Scope("Gateway", *gateway, ls.spec.name) for ls in listeners
              if ls.spec.port == port]
    return next(((s, attached[s]) for s in (*scopes, Scope("Gateway", *gateway))
                 if s in attached), None)


def port_fields(policy: Policy, chain: bool) -> list[str]:
    """The fields of `policy` that are set per port, not per Gateway listener (`chain`: an
    HTTPS listener, its own filter chain)."""
    spec = policy.spec_value()
    names: list[str] = []
    for name, value in sorted(spec.items()):
        if name in ("targetRef", "targetRefs", "targetSelectors") \
                or (chain and name not in PORT_WIDE):
            continue
        if name == "tls" and isinstance(value, dict):
            names.extend(f"spec.tls.{k}" for k in sorted(value) if f"tls.{k}" != PER_LISTENER)
        else:
            names.append(f"spec.{name}")
    return names


def conflicts(attached: Mapping[Scope, Policy], gateways: Mapping[Key, GatewayState],
              ) -> dict[tuple[Key, Key, str | None], tuple[str, Condition]]:
    """Per (policy key, Gateway, sectionName of the ancestor), the condition type and condition
    of the policies that do not set a port they target (see the module docstring)."""
    found: dict[tuple[Key, Key, str | None], tuple[str, Condition]] = {}
    for gateway, state in gateways.items():
        whole = attached.get(Scope("Gateway", *gateway))
        unset: dict[int, list[str]] = {}  # port -> listeners losing the Gateway's policy
        for listener in state.listeners:
            port = listener.spec.port
            winner = port_policy(attached, gateway, state.listeners, port)
            own = attached.get(Scope("Gateway", *gateway, listener.spec.name))
            mine = own or whole
            if winner is None or mine is None or mine is winner[1]:
                continue
            chain = listener.spec.protocol == "HTTPS"
            fields = port_fields(mine, chain)
            if not fields:
                continue
            setter = f"{winner[0].section}, whose policy {_name(winner[1])}"
            if own is None:
                unset.setdefault(port, []).append(listener.spec.name)
                continue
            kept = " (its other settings are applied: the listener is its own filter chain)" \
                if chain else ""
            found[(own.key, gateway, listener.spec.name)] = ("Accepted", (
                False, "Conflicted",
                f"{', '.join(fields)}: not applied to listener {gateway[0]}/{gateway[1]}/"
                f"{listener.spec.name}, which shares port {port} (one Envoy listener) with "
                f"listener {setter} sets these for the port{kept}; give the listener a port of "
                f"its own, or set them in that policy"))
        if whole is not None and unset:
            text = "; ".join(
                f"port {port}: listeners [{' '.join(names)}] share it with listener "
                f"{_setter(attached, gateway, state, port)}" for port, names in unset.items())
            found[(whole.key, gateway, None)] = ("Overridden", (
                True, "Overridden",
                f"{', '.join(port_fields(whole, False))}: those set per port are not applied "
                f"where listeners share a port with a listener whose own policy sets them "
                f"({text}); on HTTPS listeners only {', '.join(PORT_WIDE)} are per port"))
    return found


def _setter(attached: Mapping[Scope, Policy], gateway: Key, state: GatewayState,
            port: int) -> str:
    winner = port_policy(attached, gateway, state.listeners, port)
    assert winner is not None
    return f"{winner[0].section} (policy {_name(winner[1])})"


def _name(policy: Policy) -> str:
    return f"{policy.meta.namespace}/{policy.meta.name}"
