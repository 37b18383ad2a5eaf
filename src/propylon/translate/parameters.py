"""parametersRefs of GatewayClasses and Gateways, resolved to the proxies' `ProxyParameters`.

A parametersRef may name Propylon's `GatewayParameters` (group propylon.dev) or Envoy
Gateway's `EnvoyProxy` (group gateway.envoyproxy.io), whose fields that mean the same are read
as GatewayParameters (`api.envoyproxy`); the others it sets are not applied, and the referencing
object's Accepted condition stays True and says which (`ParametersNote`).
`resolve()` finds the referenced object or says what is wrong with the reference (another
group or kind, a GatewayClass reference without a namespace, an object that does not exist).
`merge()` lays a Gateway's parameters over its class's, field by field (a field the Gateway sets
replaces the class's value whole, maps included).

The translator uses one `Resolver` per pass: `of_class()` resolves a GatewayClass's reference
(an error becomes the class's Accepted False / InvalidParameters, a note is added to its
Accepted message) and remembers the outcome; `judge()` then resolves every evaluated Gateway's
own reference, rejects (Accepted False, InvalidParameters) the Gateways whose reference or whose
class's reference is invalid (as new states), adds the notes of the references used to the
Accepted message of the others, and returns their merged `ProxyParameters` (a Gateway's
EnvoyProxy without `mergeType` replaces the class's parameters, as in Envoy Gateway);
`telemetry()` then gives what each Gateway's proxies log (`api.accesslog`): its own
EnvoyProxy's, else its class's, else Envoy Gateway's default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from propylon.api import envoyproxy
from propylon.api.accesslog import Telemetry
from propylon.api.kinds import ENVOY_GATEWAY_GROUP, PROPYLON_GROUP
from propylon.api.parameters import KIND, GatewayParameters, ParametersRef
from propylon.ir.model import ProxyParameters
from propylon.translate import conditions as c
from propylon.translate.gateways import GatewayState

Key = tuple[str, str]  # a Gateway's namespace and name
ParametersIndex = Mapping[tuple[str, str], GatewayParameters]


@dataclass(frozen=True)
class ParametersError:
    """Why a parametersRef cannot be used (reason InvalidParameters)."""

    message: str


@dataclass(frozen=True)
class ParametersNote:
    """What a valid reference's object sets that Propylon does not apply."""

    message: str


@dataclass(frozen=True)
class Found:
    """A resolved reference: the parameters, and the note about what is not applied."""

    parameters: GatewayParameters
    note: ParametersNote | None = None
    replaces: bool = False  # a Gateway's: used instead of its class's, not merged over them
    telemetry: Telemetry | None = None  # an EnvoyProxy's


KINDS = {(PROPYLON_GROUP, KIND), (ENVOY_GATEWAY_GROUP, envoyproxy.KIND)}


def index(objects: Iterable[GatewayParameters]) -> dict[tuple[str, str], GatewayParameters]:
    return {(p.meta.namespace, p.meta.name): p for p in objects}


def resolve(ref: ParametersRef | None, params: ParametersIndex,
            owner: str, proxies: Mapping[tuple[str, str], envoyproxy.EnvoyProxy] | None = None,
            ) -> Found | ParametersError | None:
    """The parameters `ref` names (None without a ref), from GatewayParameters `params` or
    EnvoyProxies `proxies`; `owner` ("GatewayClass x", "Gateway ns/x") starts the messages."""
    if ref is None:
        return None
    where = f'{owner} parametersRef "{ref}"'
    if (ref.group, ref.kind) not in KINDS:
        return ParametersError(f"{where} is not supported: reference a {KIND} of group "
                               f"{PROPYLON_GROUP} or an {envoyproxy.KIND} of group "
                               f"{ENVOY_GATEWAY_GROUP}")
    if ref.namespace is None:
        return ParametersError(f"{where} has no namespace: {ref.kind} is namespaced, set "
                               "parametersRef.namespace")
    key = (ref.namespace, ref.name)
    if ref.kind == envoyproxy.KIND:
        proxy = (proxies or {}).get(key)
        if proxy is None:
            return _missing(where, ref)
        note = (ParametersNote(f"{envoyproxy.KIND} {ref.namespace}/{ref.name}: Propylon does "
                               f"not apply {', '.join(proxy.ignored)}")
                if proxy.ignored else None)
        return Found(proxy.parameters, note, proxy.replaces, proxy.telemetry)
    found = params.get(key)
    return _missing(where, ref) if found is None else Found(found)


def _missing(where: str, ref: ParametersRef) -> ParametersError:
    return ParametersError(f"{where} does not exist: create {ref.kind} {ref.namespace}/"
                           f"{ref.name} or fix the reference")


def merge(base: GatewayParameters | None, override: GatewayParameters | None) -> ProxyParameters:
    """The class's parameters (`base`) with every field the Gateway's (`override`) sets
    replaced."""
    values = {}
    for f in fields(ProxyParameters):
        value = None
        for layer in (override, base):
            if layer is not None and getattr(layer, f.name) is not None:
                value = getattr(layer, f.name)
                break
        if value is not None:
            values[f.name] = value
    return ProxyParameters(**values)


class Resolver:
    """parametersRef resolution for one translation pass (see the module docstring)."""

    def __init__(self, objects: Iterable[dict[str, Any]],
                 proxies: Iterable[dict[str, Any]] = ()) -> None:
        self._params = index(map(GatewayParameters.decode, objects))
        self._proxies = {(p.parameters.meta.namespace, p.parameters.meta.name): p
                         for p in map(envoyproxy.decode, proxies)}
        self._classes: dict[str, Found | ParametersError | None] = {}
        self._telemetry: dict[Key, Telemetry] = {}

    def _resolve(self, ref: ParametersRef | None, owner: str) -> Found | ParametersError | None:
        return resolve(ref, self._params, owner, self._proxies)

    def of_class(self, obj: dict[str, Any]) -> ParametersError | ParametersNote | None:
        """Resolve a GatewayClass's parametersRef; the error or the note, if any, for its
        status."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        found = self._resolve(ParametersRef.of_class(obj), f'GatewayClass "{name}"')
        self._classes[name] = found
        return found.note if isinstance(found, Found) else found

    def judge(self, states: Mapping[Key, GatewayState]
              ) -> tuple[dict[Key, GatewayState], dict[Key, ProxyParameters]]:
        """`states`, the Gateways with invalid parameters rejected, and the parameters of the
        others."""
        judged, out = dict(states), {}
        for (ns, name), state in states.items():
            base = self._classes.get(state.gateway.class_name)
            own = self._resolve(ParametersRef.of_gateway(state.obj), f'Gateway "{ns}/{name}"')
            if isinstance(base, ParametersError):
                judged[(ns, name)] = _rejected(
                    state, f'the GatewayClass "{state.gateway.class_name}" has invalid '
                           "parameters: see its Accepted condition")
            elif isinstance(own, ParametersError):
                judged[(ns, name)] = _rejected(state, own.message)
            else:
                if own is not None and own.replaces:
                    base = None
                self._telemetry[(ns, name)] = _telemetry(base, own)
                out[(ns, name)] = merge(base.parameters if base else None,
                                        own.parameters if own else None)
                notes = [f.note.message for f in (base, own) if f is not None and f.note]
                if notes and state.accepted:
                    judged[(ns, name)] = replace(state, accepted_message="; ".join(
                        [state.accepted_message, *notes]))
        return judged, out

    def telemetry(self, key: Key) -> Telemetry:
        """What the proxies of the Gateway `key` (judged by `judge`) log."""
        return self._telemetry.get(key) or Telemetry()


def _telemetry(base: Found | None, own: Found | None) -> Telemetry:
    """A Gateway's own EnvoyProxy's telemetry when it replaces its class's or says it, else
    the class's EnvoyProxy's, else the default."""
    if own is not None and own.telemetry is not None and (own.replaces or
                                                          own.telemetry.explicit):
        return own.telemetry
    if base is not None and base.telemetry is not None:
        return base.telemetry
    return Telemetry()


def _rejected(state: GatewayState, message: str) -> GatewayState:
    return replace(state, accepted=False, accepted_reason=c.INVALID_PARAMETERS,
                   accepted_message=message)
