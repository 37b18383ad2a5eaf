"""parametersRefs of GatewayClasses and Gateways, resolved to the proxies' `ProxyParameters`.

The only kind a parametersRef may name is Propylon's `GatewayParameters` (group propylon.dev).
`resolve()` finds the referenced object or says what is wrong with the reference (another
group or kind, a GatewayClass reference without a namespace, an object that does not exist).
`merge()` lays a Gateway's parameters over its class's, field by field (a field the Gateway sets
replaces the class's value whole, maps included).

The translator uses one `Resolver` per pass: `of_class()` resolves a GatewayClass's reference
(an error becomes the class's Accepted False / InvalidParameters) and remembers the outcome;
`judge()` then resolves every evaluated Gateway's own reference, rejects (Accepted False,
InvalidParameters) the Gateways whose reference or whose class's reference is invalid (as new
states), and returns the merged `ProxyParameters` of the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from propylon.api.kinds import PROPYLON_GROUP
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


def index(objects: Iterable[GatewayParameters]) -> dict[tuple[str, str], GatewayParameters]:
    return {(p.meta.namespace, p.meta.name): p for p in objects}


def resolve(ref: ParametersRef | None, params: ParametersIndex,
            owner: str) -> GatewayParameters | ParametersError | None:
    """The GatewayParameters `ref` names (None without a ref); `owner` ("GatewayClass x",
    "Gateway ns/x") starts the error message."""
    if ref is None:
        return None
    where = f'{owner} parametersRef "{ref}"'
    if ref.group != PROPYLON_GROUP or ref.kind != KIND:
        return ParametersError(f"{where} is not supported: reference a {KIND} of group "
                               f"{PROPYLON_GROUP}")
    if ref.namespace is None:
        return ParametersError(f"{where} has no namespace: {KIND} is namespaced, set "
                               "parametersRef.namespace")
    found = params.get((ref.namespace, ref.name))
    if found is None:
        return ParametersError(f"{where} does not exist: create {KIND} {ref.namespace}/{ref.name}"
                               " or fix the reference")
    return found


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

    def __init__(self, objects: Iterable[dict[str, Any]]) -> None:
        self._params = index(map(GatewayParameters.decode, objects))
        self._classes: dict[str, GatewayParameters | ParametersError | None] = {}

    def of_class(self, obj: dict[str, Any]) -> ParametersError | None:
        """Resolve a GatewayClass's parametersRef; the error, if any, for its status."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        found = resolve(ParametersRef.of_class(obj), self._params, f'GatewayClass "{name}"')
        self._classes[name] = found
        return found if isinstance(found, ParametersError) else None

    def judge(self, states: Mapping[Key, GatewayState]
              ) -> tuple[dict[Key, GatewayState], dict[Key, ProxyParameters]]:
        """`states`, the Gateways with invalid parameters rejected, and the parameters of the
        others."""
        judged, out = dict(states), {}
        for (ns, name), state in states.items():
            base = self._classes.get(state.gateway.class_name)
            own = resolve(ParametersRef.of_gateway(state.obj), self._params,
                          f'Gateway "{ns}/{name}"')
            if isinstance(base, ParametersError):
                judged[(ns, name)] = _rejected(
                    state, f'the GatewayClass "{state.gateway.class_name}" has invalid '
                           "parameters: see its Accepted condition")
            elif isinstance(own, ParametersError):
                judged[(ns, name)] = _rejected(state, own.message)
            else:
                out[(ns, name)] = merge(base, own)
        return judged, out


def _rejected(state: GatewayState, message: str) -> GatewayState:
    return replace(state, accepted=False, accepted_reason=c.INVALID_PARAMETERS,
                   accepted_message=message)
