"""EnvoyPatchPolicy: which patches each Gateway's Envoy resources get, and the Programmed status.

Propylon applies EnvoyPatchPolicies always (Envoy Gateway needs `enableEnvoyPatchPolicy` in its
own configuration; here whoever may write an EnvoyPatchPolicy in a Gateway's namespace may patch
that Gateway). `attachment.attach` finds the Gateway each policy targets; `by_gateway` lists, per
Gateway, the patches of the policies accepted there, in the order they apply: `spec.priority`
ascending, then the policies' age and name (attachment's order), then index. The IR carries them
(`GatewayIR.patches`) to the xDS translation, which applies them
(`propylon.xds.translate.patches`) and reports a policy whose patches it had to leave out; that
report comes back with the next translation (`Rejections.patches`) and `programmed` turns it
into the policy's condition: Programmed False, reason Invalid, with the patch index and the
reason; Programmed False too when Envoy refuses a listener, cluster or secret the policy
patches (its message); Programmed True once every patch applies and Envoy takes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from propylon.api.envoygateway import Policy
from propylon.api.envoypatch import json_patches, priority
from propylon.ir.model import GatewayKey, Rejections
from propylon.ir.patches import JsonPatch
from propylon.translate import conditions as c
from propylon.translate.policies.attachment import Attachments, Condition

Key = tuple[str, str]
APPLIED = "Patches have been successfully applied."


def programmed(rejections: Mapping[GatewayKey, Rejections]) -> Callable[[Policy], Condition]:
    """The Programmed condition of an accepted policy, given what the xDS translation left out
    and what Envoy refused (`Rejections`) of the Gateways it targets."""
    def condition(policy: Policy) -> Condition:
        ns = policy.meta.namespace
        gateways = [rejections.get(GatewayKey(ns, ref.name)) or Rejections()
                    for ref in policy.target_refs if ref.kind == "Gateway"]
        failure = next((r.patches[f"{ns}/{policy.meta.name}"] for r in gateways
                        if f"{ns}/{policy.meta.name}" in r.patches), None)
        if failure is not None:
            return (False, c.INVALID, failure)
        refused = next((f"Envoy refused the patched {kind} {name}: {message}"
                        for r in gateways for kind, name in _targets(policy)
                        if (message := _refusal(r, kind, name)) is not None), None)
        if refused is not None:
            return (False, c.INVALID, refused)
        return (True, c.PROGRAMMED, APPLIED)
    return condition


def _targets(policy: Policy) -> list[tuple[str, str]]:
    """(kind, name) of the resources a policy's patches name."""
    ns = policy.meta.namespace
    return [(p.type_url.rsplit(".", 1)[-1], p.name)
            for p in json_patches(policy.spec_value(), f"{ns}/{policy.meta.name}")[0]]


def _refusal(rejections: Rejections, kind: str, name: str) -> str | None:
    """Envoy's message refusing the resource `kind` `name`, if it did."""
    refused = {"Listener": rejections.listeners, "Cluster": rejections.clusters,
               "ClusterLoadAssignment": rejections.clusters,
               "Secret": rejections.secrets}.get(kind, {})
    return refused.get(name)


def by_gateway(found: Attachments) -> dict[Key, tuple[JsonPatch, ...]]:
    """Per Gateway, the patches of the policies accepted on it, in the order they apply."""
    ranked: dict[Key, list[tuple[int, int, tuple[JsonPatch, ...]]]] = {}
    for order, (policy, entries) in enumerate(found.statuses):
        if policy.problems:
            continue
        spec = policy.spec_value()
        patches = json_patches(spec, f"{policy.meta.namespace}/{policy.meta.name}")[0]
        for entry in entries:
            if any(cond.type == c.ACCEPTED and cond.status for cond in entry.conditions):
                ranked.setdefault((entry.ref.namespace or "", entry.ref.name), []).append(
                    (priority(spec), order, patches))
    return {key: tuple(p for _, _, patches in sorted(items, key=lambda i: i[:2])
                       for p in patches)
            for key, items in ranked.items()}
