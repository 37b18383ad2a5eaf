"""The status kube-apiserver gives a Pod it creates: Pending, and the Pod's QoS class.

kube-apiserver's Pod strategy replaces what a new Pod's status says with `phase: Pending` and
the `qosClass` its containers' resources make (`qos.GetPodQOS`), which `kubectl describe pod`
shows as "QoS Class":
- BestEffort: no container requests or limits CPU or memory;
- Guaranteed: every container (init containers too) limits both CPU and memory, and the
  requests equal the limits (requests left out are defaulted to the limits before this);
- Burstable: anything else.
Quantities compare by value (`1` equals `1000m`, `1Gi` equals `1024Mi`). Pure; a malformed
quantity (the schema refuses it) counts as absent.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from propylon.api.validation import QUANTITY

QOS_RESOURCES = ("cpu", "memory")
SUFFIXES = {"": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6),
            "m": Fraction(1, 1000), "k": Fraction(10**3), "M": Fraction(10**6),
            "G": Fraction(10**9), "T": Fraction(10**12), "P": Fraction(10**15),
            "E": Fraction(10**18), **{f"{p}i": Fraction(1024 ** (i + 1))
                                      for i, p in enumerate("KMGTPE")}}

_PARTS = re.compile(r"([+-]?[0-9.]+)(.*)")


def quantity(value: Any) -> Fraction | None:
    """The value of a Kubernetes quantity (`100m`, `128Mi`, `1e3`, 2), None when malformed."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    parts = _PARTS.fullmatch(value) if isinstance(value, str) else None
    if parts is None or not re.search(QUANTITY, value):
        return None
    number, suffix = parts.groups()
    if suffix not in SUFFIXES:  # an exponent
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    return Fraction(number) * SUFFIXES[suffix]


def _amounts(resources: Any, key: str) -> dict[str, Fraction]:
    """The positive CPU and memory amounts of `resources[key]` (requests or limits)."""
    listed = resources.get(key) if isinstance(resources, dict) else None
    amounts = {name: quantity(value) for name, value in (listed or {}).items()
               if name in QOS_RESOURCES} if isinstance(listed, dict) else {}
    return {name: q for name, q in amounts.items() if q is not None and q > 0}


def qos_class(pod: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed (see the module docstring)."""
    spec = pod.get("spec")
    containers = [c for key in ("initContainers", "containers")
                  for c in ((spec.get(key) or []) if isinstance(spec, dict) else [])
                  if isinstance(c, dict)]
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources")
        for name, amount in _amounts(resources, "requests").items():
            requests[name] = requests.get(name, Fraction(0)) + amount
        container_limits = _amounts(resources, "limits")
        for name, amount in container_limits.items():
            limits[name] = limits.get(name, Fraction(0)) + amount
        guaranteed = guaranteed and set(QOS_RESOURCES) <= set(container_limits)
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def initial_status(pod: dict[str, Any]) -> dict[str, Any]:
    """A new Pod's status: Pending until a kubelet runs it (none does in standalone mode)."""
    return {"phase": "Pending", "qosClass": qos_class(pod)}
