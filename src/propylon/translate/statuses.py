"""The statuses translation writes, as frozen values: a `Condition`, the entries of a route's
`parents` and of a policy's `ancestors`, a listener's status, and the whole status of a
GatewayClass, Gateway, ListenerSet, route or policy.

Stages build and compare these values (`conditions.Conditions` makes the conditions,
`rejections` reads them back); each status turns into the JSON the API server stores with
`to_json()`, which only the boundary calls: `statusmerge.wanted_status`, on the way to the
status writer and to `propylon translate`, and `golden.as_data`, which prints a Result. A condition's `last_transition_time` is None while it has no time
yet (`conditions.stamp` gives it one) and may be `types.WRITE_TIME`, which the status writer
replaces with the time of the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.gateway import GROUP
from propylon.api.httproute import ParentRef
from propylon.translate.types import Now


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str
    observed_generation: int
    last_transition_time: Now | None  # None: changed, not stamped yet

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "status": "True" if self.status else "False",
                "reason": self.reason, "message": self.message,
                "observedGeneration": self.observed_generation,
                "lastTransitionTime": self.last_transition_time}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A status `parentRef` (group, kind and namespace filled in) or `ancestorRef`."""

    group: str
    kind: str
    namespace: str
    name: str
    section_name: str | None = None
    port: int | None = None

    @classmethod
    def parent(cls, ref: ParentRef, route_namespace: str) -> ObjectRef:
        """A route's parentRef as written in its status."""
        return cls(ref.group, ref.kind, ref.namespace or route_namespace, ref.name,
                   ref.section_name, ref.port)

    def key(self) -> tuple[object, ...]:
        """What `parents.ref_key` makes of this reference's JSON."""
        return (self.group, self.kind, self.namespace, self.name, self.section_name, self.port)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "kind": self.kind,
                               "namespace": self.namespace, "name": self.name}
        if not self.namespace:  # a cluster-scoped ancestor (a GatewayClass) has none
            del out["namespace"]
        if self.section_name is not None:
            out["sectionName"] = self.section_name
        if self.port is not None:
            out["port"] = self.port
        return out


@dataclass(frozen=True, slots=True)
class ParentStatus:
    """One entry of a route's `parents` or of a policy's `ancestors`."""

    ref: ObjectRef
    controller_name: str
    conditions: tuple[Condition, ...]

    def to_json(self, ref_field: str = "parentRef") -> dict[str, Any]:
        return {ref_field: self.ref.to_json(), "controllerName": self.controller_name,
                "conditions": [c.to_json() for c in self.conditions]}


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """This controller's entries of a route's `status.parents`."""

    parents: tuple[ParentStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {"parents": [p.to_json() for p in self.parents]}


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    """This controller's entries of a policy's `status.ancestors`."""

    ancestors: tuple[ParentStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {"ancestors": [a.to_json("ancestorRef") for a in self.ancestors]}


@dataclass(frozen=True, slots=True)
class ConditionsStatus:
    """A status that is only `conditions`, all of them this controller's (Envoy Gateway's
    Backend)."""

    conditions: tuple[Condition, ...]

    def to_json(self) -> dict[str, Any]:
        return {"conditions": [c.to_json() for c in self.conditions]}


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    name: str
    supported_kinds: tuple[str, ...]  # route kinds of the Gateway API group
    attached_routes: int
    conditions: tuple[Condition, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name,
                "supportedKinds": [{"group": GROUP, "kind": k} for k in self.supported_kinds],
                "attachedRoutes": self.attached_routes,
                "conditions": [c.to_json() for c in self.conditions]}


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    conditions: tuple[Condition, ...]
    listeners: tuple[ListenerStatus, ...]
    addresses: tuple[str, ...] = ()  # IPAddress values
    attached_listener_sets: int | None = None  # None: the Gateway allows no ListenerSets

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.addresses:
            out["addresses"] = [{"type": "IPAddress", "value": a} for a in self.addresses]
        out["conditions"] = [c.to_json() for c in self.conditions]
        out["listeners"] = [li.to_json() for li in self.listeners]
        if self.attached_listener_sets is not None:
            out["attachedListenerSets"] = self.attached_listener_sets
        return out


@dataclass(frozen=True, slots=True)
class ListenerSetStatus:
    conditions: tuple[Condition, ...]
    listeners: tuple[ListenerStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return {"conditions": [c.to_json() for c in self.conditions],
                "listeners": [li.to_json() for li in self.listeners]}


@dataclass(frozen=True, slots=True)
class GatewayClassStatus:
    conditions: tuple[Condition, ...]
    supported_features: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"conditions": [c.to_json() for c in self.conditions],
                "supportedFeatures": [{"name": f} for f in self.supported_features]}
