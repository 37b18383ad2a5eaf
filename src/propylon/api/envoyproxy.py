"""Envoy Gateway's EnvoyProxy (gateway.envoyproxy.io/v1alpha1) read as proxy parameters.

A GatewayClass's `parametersRef` or a Gateway's `infrastructure.parametersRef` may name an
EnvoyProxy, as with Envoy Gateway. `decode()` reads the fields that mean the same as a field of
Propylon's GatewayParameters into one (`APPLIED`: worker threads, and in Kubernetes mode the
proxy Deployment's replicas, image, resources and pod scheduling, labels and annotations,
security contexts, priority class, image pull secrets, the HPA and PDB settings, and the
Service type), its access and health-check logs (`spec.telemetry`, `api.accesslog`), and
lists every other field it sets (`ignored`: metrics, tracing, shutdown, bootstrap, ...), so
the status of the object referencing it can say what Propylon
does not apply instead of silently dropping it. `provider.type: Kubernetes` and `ipFamily: IPv4`
describe what Propylon does anyway and are not reported. As with Envoy Gateway, a Gateway's
EnvoyProxy replaces its class's whole unless its `mergeType` says to merge (`replaces`); Propylon
then merges field by field, as GatewayParameters are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api import accesslog
from propylon.api.parameters import GatewayParameters

KIND = "EnvoyProxy"
_DEPLOYMENT = ("provider", "kubernetes", "envoyDeployment")
# EnvoyProxy spec path -> GatewayParameters spec field
APPLIED: dict[tuple[str, ...], str] = {
    ("concurrency",): "concurrency",
    (*_DEPLOYMENT, "replicas"): "replicas",
    (*_DEPLOYMENT, "container", "image"): "image",
    (*_DEPLOYMENT, "container", "resources"): "resources",
    (*_DEPLOYMENT, "pod", "nodeSelector"): "nodeSelector",
    (*_DEPLOYMENT, "pod", "tolerations"): "tolerations",
    (*_DEPLOYMENT, "pod", "affinity"): "affinity",
    (*_DEPLOYMENT, "pod", "labels"): "podLabels",
    (*_DEPLOYMENT, "pod", "annotations"): "podAnnotations",
    (*_DEPLOYMENT, "pod", "imagePullSecrets"): "imagePullSecrets",
    (*_DEPLOYMENT, "pod", "priorityClassName"): "priorityClassName",
    (*_DEPLOYMENT, "pod", "securityContext"): "podSecurityContext",
    (*_DEPLOYMENT, "pod", "topologySpreadConstraints"): "topologySpreadConstraints",
    (*_DEPLOYMENT, "container", "securityContext"): "securityContext",
    ("provider", "kubernetes", "envoyService", "type"): "serviceType",
    **{("provider", "kubernetes", "envoyHpa", f): f"autoscaling.{f}"
       for f in ("minReplicas", "maxReplicas", "metrics", "behavior")},
    **{("provider", "kubernetes", "envoyPDB", f): f"podDisruptionBudget.{f}"
       for f in ("minAvailable", "maxUnavailable")},
}
# fields whose value states what Propylon does without them
AS_PROPYLON: dict[tuple[str, ...], str] = {("provider", "type"): "Kubernetes",
                                          ("ipFamily",): "IPv4"}


@dataclass(frozen=True)
class EnvoyProxy:
    """An EnvoyProxy as proxy parameters, and the spec fields Propylon does not apply."""

    parameters: GatewayParameters
    ignored: tuple[str, ...]  # e.g. "spec.telemetry", sorted
    replaces: bool = True  # on a Gateway: instead of the class's parameters, not over them
    telemetry: accesslog.Telemetry = accesslog.Telemetry()


def _leaves(value: Mapping[str, Any], path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every field under `value`, descending only where a path of `APPLIED`
    or `AS_PROPYLON` continues."""
    out = []
    for key, child in value.items():
        here = (*path, key)
        known = [p for p in (*APPLIED, *AS_PROPYLON) if p[:len(here)] == here]
        if known and here not in known and isinstance(child, Mapping):
            out.extend(_leaves(child, here))
        else:
            out.append((here, child))
    return out


def decode(obj: Mapping[str, Any]) -> EnvoyProxy:
    """The parameters `obj` (an EnvoyProxy) sets, and the fields Propylon ignores."""
    spec: dict[str, Any] = {}
    raw = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    telemetry, ignored = accesslog.decode(raw.get("telemetry") or {}, namespace,
                                          f"{KIND} {namespace}/{meta.get('name')}")
    for path, value in _leaves({k: v for k, v in raw.items()
                                if k not in ("mergeType", "telemetry")}, ()):
        if path in APPLIED:
            *parents, leaf = APPLIED[path].split(".")
            target = spec
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        elif AS_PROPYLON.get(path) != value:
            ignored.append("spec." + ".".join(path))
    parameters = GatewayParameters.decode({"metadata": obj.get("metadata") or {}, "spec": spec})
    return EnvoyProxy(parameters, tuple(sorted(ignored)),
                      raw.get("mergeType") in (None, "Replace"), telemetry)
